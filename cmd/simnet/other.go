//go:build !unix

package main

import "os"

func raiseFileLimit()           {}
func notifyDump(chan os.Signal) {}
