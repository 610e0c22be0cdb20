// Package fuzz holds the go test -fuzz targets over the parsers and
// protocol machines in proto/. Each target is seeded from the unit tests'
// tables and checks properties, not just the absence of panics; every
// crasher found is kept as a named regression test.
//
// Run one with: go test -run '^$' -fuzz '^FuzzName$' ./fuzz
package fuzz
