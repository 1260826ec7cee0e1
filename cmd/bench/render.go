package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Targets of the benchmark.
const (
	targetPackagesPerSec = 10000
	targetLimitShare     = 0.25
	targetUsagePerSec    = 50000
	targetUsageShare     = 0.5
	targetUsageRunRatio  = 0.75
	targetMemoryRatio    = 2.0
	targetDashboardP99   = 20 * time.Millisecond
	targetFanoutLag      = time.Second
)

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// render writes the results as the markdown of docs/benchmarks.md.
func render(results []*dbResult, m machineInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# billd benchmarks\n\nWritten by `make bench` (cmd/bench) on %s: %d cores, %s memory, %s, %s.\n",
		m.Date, m.Cores, m.Memory, m.Go, m.OS)
	b.WriteString(`
Each database gets a fresh mixed customer base written straight into it (accounts with
1-3 account-packages: monthly with two services, yearly, weekly, monthly postpaid, bulk
lines of 10; one in five starting mid-December, one in twenty canceled on January 20).
One bill run over 2024-01-01..2024-02-01 then bills it through the API of a billd server
in a child process (billd's defaults: 2 workers, batches of 500 accounts on SQLite and 200
on PostgreSQL), whose peak resident memory is
reported. The limit is the same number of rows (charges, invoices and package updates)
written the fastest plain way the database offers: COPY through pgx on PostgreSQL,
prepared inserts in one transaction on SQLite, into a table shaped like charges with a
unique guard index.

`)
	for _, r := range results {
		full := r.Runs[0]
		fmt.Fprintf(&b, "## %s\n\n", r.Dialect)
		b.WriteString("| figure | value | target | |\n|---|---|---|---|\n")
		fmt.Fprintf(&b, "| accounts / account-packages | %d / %d | | |\n", full.Accounts, full.Packages)
		fmt.Fprintf(&b, "| seeding (straight into the database) | %s | | |\n", full.SeedTime.Round(time.Millisecond))
		fmt.Fprintf(&b, "| bill run | %s | | |\n", full.RunTime.Round(time.Millisecond))
		fmt.Fprintf(&b, "| account-packages billed per second | %.0f | ≥ %d | %s |\n", full.packagesPerSec(), targetPackagesPerSec, met(full.packagesPerSec() >= targetPackagesPerSec))
		fmt.Fprintf(&b, "| charges written per second | %.0f | | |\n", full.chargesPerSec())
		fmt.Fprintf(&b, "| rows written per second (charges, invoices, package updates) | %.0f | | |\n", full.rowsPerSec())
		fmt.Fprintf(&b, "| limit: plain writes per second | %.0f | | |\n", full.limitPerSec())
		share := full.rowsPerSec() / full.limitPerSec()
		fmt.Fprintf(&b, "| bill run / limit | %.0f%% | ≥ %.0f%% | %s |\n", 100*share, 100*targetLimitShare, met(share >= targetLimitShare))
		fmt.Fprintf(&b, "| peak RSS of the server | %d MiB | | |\n", full.PeakRSS>>20)
		if u := full.Usage; u.Records > 0 {
			fmt.Fprintf(&b, "| usage records ingested per second (recordUsage, %d clients, batches of %d) | %.0f | ≥ %d | %s |\n",
				usageClients, usageBatch, u.perSec(), targetUsagePerSec, met(u.perSec() >= targetUsagePerSec))
			fmt.Fprintf(&b, "| limit: plain inserts of the same rows per second | %.0f | | |\n", u.limitPerSec())
			us := u.perSec() / u.limitPerSec()
			fmt.Fprintf(&b, "| ingestion / limit | %.0f%% | ≥ %.0f%% | %s |\n", 100*us, 100*targetUsageShare, met(us >= targetUsageShare))
		}
		if u := r.UsageRun; u.Packages > 0 {
			fmt.Fprintf(&b, "| usage bill run: %d account-packages, %d records in the month | %s (%.0f/s) | | |\n",
				u.Packages, u.Records, u.With.Round(time.Millisecond), float64(u.Packages)/u.With.Seconds())
			fmt.Fprintf(&b, "| the same run with billUsage false | %s (%.0f/s) | | |\n", u.Without.Round(time.Millisecond),
				float64(u.Packages)/u.Without.Seconds())
			fmt.Fprintf(&b, "| usage bill run / run without usage (account-packages per second) | %.2f | ≥ %.2f | %s |\n",
				u.ratio(), targetUsageRunRatio, met(u.ratio() >= targetUsageRunRatio))
		}
		var names []string
		for k := range full.Latency {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			l := full.Latency[k]
			target, verdict := "", ""
			if strings.HasPrefix(k, "dashboard") {
				target, verdict = "p99 < 20 ms", met(l.P99 < targetDashboardP99)
			}
			fmt.Fprintf(&b, "| %s, 16 clients: p50 / p99 | %s / %s | %s | %s |\n", k, l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), target, verdict)
		}
		names = names[:0]
		for k := range full.Statements {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			s := full.Statements[k]
			fmt.Fprintf(&b, "| SQL statements, %s: 10 rows / 100 rows | %d / %d | constant | %s |\n", k, s[0], s[1], met(s[0] == s[1]))
		}
		allSeen := full.FanoutSeen > 0 && full.FanoutSeen == full.FanoutWanted
		fmt.Fprintf(&b, "| fan-out: subscribers that saw FINISHED | %d of %d | all | %s |\n", full.FanoutSeen, full.FanoutWanted, met(allSeen))
		fmt.Fprintf(&b, "| fan-out: FINISHED to the last subscriber | %s | < 1 s | %s |\n", full.FanoutLag.Round(time.Millisecond), met(allSeen && full.FanoutLag < targetFanoutLag))
		fmt.Fprintf(&b, "| fan-out: server memory per connection | %.1f KiB | | |\n", full.FanoutPerConnKB)
		if len(r.Runs) > 1 {
			b.WriteString("\nScale (time should grow linearly, memory stay flat):\n\n| accounts | account-packages | bill run | per second | peak RSS |\n|---|---|---|---|---|\n")
			runs := append([]*runResult(nil), r.Runs...)
			sort.Slice(runs, func(i, j int) bool { return runs[i].Accounts < runs[j].Accounts })
			for _, x := range runs {
				fmt.Fprintf(&b, "| %d | %d | %s | %.0f | %d MiB |\n", x.Accounts, x.Packages, x.RunTime.Round(time.Millisecond), x.packagesPerSec(), x.PeakRSS>>20)
			}
			small, big := runs[0], runs[len(runs)-1]
			ratio := float64(big.PeakRSS) / float64(small.PeakRSS)
			fmt.Fprintf(&b, "\nMemory at %d accounts is %.2f× that at %d (target < %.0f× from 50,000 to 1,000,000): %s.\n",
				big.Accounts, ratio, small.Accounts, targetMemoryRatio, met(ratio < targetMemoryRatio))
		}
		b.WriteString("\n")
	}
	b.WriteString("What these figures mean, which targets are missed and why, and what was changed\n" +
		"after profiling: [performance.md](performance.md).\n")
	return b.String()
}
