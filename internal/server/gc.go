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
// default of 100 collects many times a second under load. Served in process
// (BenchmarkDashboardQuery, runs alternated), the dashboard query takes a tenth less
// time at 200 than at 100. The heap's slack above the live data, which is most of what
// an idle websocket connection costs, grows with the setting: 200 KiB a connection at
// 100, 280 KiB at 200, 430 KiB at 400, which bought little more speed.
const GCPercent = 200

// TuneGC sets the collector to GCPercent unless GOGC is set. Programs that serve
// (billd serve, the benchmark) call it once at start.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}
