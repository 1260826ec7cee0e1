// Package billd is the billd module root. It holds no code: see cmd/billd for the
// binary and internal/ for the domain. The directives below regenerate the Ent client
// and the GraphQL server (`make generate`).
package billd

//go:generate go run ./ent/entc.go
//go:generate go tool gqlgen generate
