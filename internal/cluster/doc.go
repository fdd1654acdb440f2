// Package cluster holds the test of several linkapi instances on a MariaDB
// Galera cluster sharing one Redis. It has no code of its own; the test needs
// galera-4, rsync, mariadb-server and redis-server, so it is built only with the
// cluster tag:
//
//	go test -tags cluster -count=1 -v ./internal/cluster
//
// .ci/run installs what it needs and runs it.
package cluster
