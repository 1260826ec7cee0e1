package server

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector target billd's server processes run with unless
// the GOGC environment variable says otherwise.
//
// billd's live heap is small (tens of MiB while billing a million accounts, since
// runs stream in batches) but it allocates briskly per request and per batch, so Go's
// default of 100 collects many times a second under load. Profiling the dashboard
// query put a third of the server's CPU in the collector; at 400 the heap peaks a few
// dozen MiB higher and that CPU goes to requests instead.
const GCPercent = 400

// TuneGC sets the collector to GCPercent unless GOGC is set. Programs that serve
// (billd serve, the benchmark) call it once at start.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
