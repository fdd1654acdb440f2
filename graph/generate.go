// Package graph is the GraphQL layer: gqlgen's generated executor, thin resolvers
// over the domain services, the @hasScope directive and the error presenter.
package graph

//go:generate go -C .. tool gqlgen generate
