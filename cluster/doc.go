// Package cluster holds the end-to-end tests of a Chatr cluster: several
// real chatr processes sharing PostgreSQL and Redis, with clients spread
// over them (see cluster_test.go). It has no code of its own.
package cluster
