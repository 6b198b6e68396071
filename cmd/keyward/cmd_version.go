package main

import (
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise it comes from
// the module build information.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func cmdVersion(args []string) int {
	fs := newFlags("version", "version", "Print keyward's version.")
	if st := parse(fs, args); st >= 0 {
		return st
	}
	fmt.Println("keyward", buildVersion())
	return 0
}
