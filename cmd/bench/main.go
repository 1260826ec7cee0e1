// Command bench measures billd against its targets and writes docs/benchmarks.md:
//
//	go run ./cmd/bench [-accounts 200000] [-scale 50000] [-db sqlite,postgres]
//
// For each database it seeds a mixed customer base straight into the database, bills
// it in one bill run through the API of a billd server in a child process (so the
// server's own memory is measured), writes the same number of rows the fastest plain
// way the database offers (the limit), measures API latency with concurrent clients
// and the SQL statements per request, and fans a run out to many websocket
// subscribers. PostgreSQL runs when BILLD_BENCH_POSTGRES_URL (or
// BILLD_TEST_POSTGRES_URL) is set; `make bench` starts a throwaway cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child-serve" {
		childServe()
		return
	}
	accounts := flag.Int("accounts", 200000, "accounts of the throughput run")
	scale := flag.String("scale", "50000", "other account counts to run for the scale table, comma-separated (e.g. 50000,1000000)")
	dbs := flag.String("db", "sqlite,postgres", "databases to measure")
	clients := flag.Int("clients", 16, "concurrent API clients for the latency figures")
	subscribers := flag.Int("subscribers", 1000, "websocket subscribers for the fan-out figures")
	out := flag.String("out", "docs/benchmarks.md", "where to write the results")
	usageAccounts := flag.Int("usage-accounts", 20000, "accounts of the usage bill run (0: none)")
	usageOnly := flag.Bool("usage-only", false, "measure only the usage bill run (and write nothing)")
	flag.Parse()
	raiseFileLimit()

	pgURL := os.Getenv("BILLD_BENCH_POSTGRES_URL")
	if pgURL == "" {
		pgURL = os.Getenv("BILLD_TEST_POSTGRES_URL")
	}
	var results []*dbResult
	for _, db := range strings.Split(*dbs, ",") {
		db = strings.TrimSpace(db)
		if db == "postgres" && pgURL == "" {
			log.Printf("skipping PostgreSQL: set BILLD_BENCH_POSTGRES_URL (make bench does)")
			continue
		}
		r := &dbResult{Dialect: db}
		if *usageAccounts > 0 {
			log.Printf("%s: usage bill run, %d accounts", db, *usageAccounts)
			u, err := measureUsageRun(context.Background(), db, pgURL, *usageAccounts)
			if err != nil {
				log.Fatalf("%s, usage run: %v", db, err)
			}
			r.UsageRun = u
		}
		if *usageOnly {
			continue
		}
		sizes := []int{*accounts}
		for _, s := range strings.Split(*scale, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 && n != *accounts {
				sizes = append(sizes, n)
			}
		}
		for i, n := range sizes {
			full := i == 0
			log.Printf("%s: %d accounts%s", db, n, map[bool]string{true: " (throughput, latency, fan-out)", false: " (scale)"}[full])
			res, err := benchOne(context.Background(), db, pgURL, n, full, *clients, *subscribers)
			if err != nil {
				log.Fatalf("%s, %d accounts: %v", db, n, err)
			}
			r.Runs = append(r.Runs, res)
		}
		results = append(results, r)
	}
	if *usageOnly {
		return
	}
	report := render(results, machine())
	fmt.Print(report)
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", *out)
	}
}

// childServe runs a billd server for the benchmark in this process, configured by
// environment, until killed.
func childServe() {
	ctx := context.Background()
	if addr := os.Getenv("BENCH_PPROF"); addr != "" {
		// Profiles of the server under measurement: go tool pprof http://ADDR/debug/pprof/profile
		go func() { log.Println(http.ListenAndServe(addr, nil)) }()
	}
	server.TuneGC() // as billd serve does
	srv, err := server.Open(ctx, workerConfig(server.Config{DatabaseURL: os.Getenv("BILLD_DATABASE_URL"),
		BootstrapAdminKey: benchKey, Limits: benchLimits}))
	if err != nil {
		log.Fatal(err)
	}
	if err := serveHTTP(srv, os.Getenv("BILLD_ADDR")); err != nil {
		log.Fatal(err)
	}
}

// benchKey is the ADMIN key the benchmark's servers are bootstrapped with.
const benchKey = "billd_benchadmin00_benchmark-admin-key-not-for-production"

// benchLimits turn the per-key limits off: the benchmark is one key hammering the
// server on purpose (16 clients, 1,000 subscribers).
var benchLimits = access.Limits{RatePerSecond: -1, Connections: -1, Subscriptions: -1}

// startChild starts a billd server process on the database and waits until ready.
func startChild(dbURL string, env ...string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "child-serve")
	cmd.Env = append(os.Environ(), append([]string{"BILLD_DATABASE_URL=" + dbURL, "BILLD_ADDR=" + addr}, env...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, base: "http://" + addr}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if ok, _ := c.ready(); ok {
			return c, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("the billd child never became ready")
}

type child struct {
	cmd  *exec.Cmd
	base string
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// rss returns the child's current and peak resident memory in bytes.
func (c *child) rss() (cur, peak int64) { return procRSS(c.cmd.Process.Pid) }

func procRSS(pid int) (cur, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return cur, peak
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// machineInfo describes where the figures were taken.
type machineInfo struct {
	Cores  int
	Memory string
	Go     string
	OS     string
	Date   string
}

func machine() machineInfo {
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/1024/1024)
		}
	}
	return machineInfo{Cores: runtime.NumCPU(), Memory: mem, Go: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Date: time.Now().UTC().Format("2006-01-02")}
}

func (c *child) ready() (bool, error) {
	resp, err := httpClient.Get(c.base + "/readyz")
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == 200, nil
}
