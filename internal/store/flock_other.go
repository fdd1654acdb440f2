//go:build !unix

package store

import "os"

// tryFlock succeeds at once where there is no flock: there, processes sharing
// one SQLite file must not migrate it at the same moment.
func tryFlock(*os.File) (bool, error) { return true, nil }
