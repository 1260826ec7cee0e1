package main_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// buildBilld builds the real binary once per test run.
func buildBilld(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "billd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeAndShutdown runs `billd serve` as a process on each database: it migrates,
// becomes ready, serves GraphiQL and the API, and stops cleanly on SIGTERM. Then
// `billd migrate` on the same database finds nothing left to apply.
func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dbURL := testenv.DatabaseURL(t, dialect)
			addr := freePort(t)
			cmd := exec.Command(bin, "serve")
			cmd.Env = append(os.Environ(), "BILLD_ADDR="+addr, "BILLD_DATABASE_URL="+dbURL,
				"BILLD_BOOTSTRAP_ADMIN_KEY="+testenv.AdminKey)
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			logs := make(chan string, 100)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logs <- sc.Text()
				}
				close(logs)
			}()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			base := "http://" + addr
			require.Eventually(t, func() bool {
				resp, err := http.Get(base + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			}, 60*time.Second, 50*time.Millisecond, "billd never became ready")

			body := get(t, base+"/healthz")
			require.Contains(t, body, `"ok"`)
			page := get(t, base+"/")
			require.Contains(t, strings.ToLower(page), "graphiql")

			// Without a key the API answers 401 UNAUTHENTICATED.
			resp, err := http.Post(base+"/query", "application/json",
				strings.NewReader(`{"query":"{ currencies { code } }"}`))
			require.NoError(t, err)
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Contains(t, string(data), `"UNAUTHENTICATED"`)

			req, err := http.NewRequest(http.MethodPost, base+"/query", strings.NewReader(`{"query":"{ currencies { code } }"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testenv.AdminKey)
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			data, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Contains(t, string(data), `"USD"`)

			// GET carries queries too (cacheable reads).
			require.Contains(t, get(t, base+"/query?query=%7Bstatuses%7Bcode%7D%7D"), `"CANCELED"`)

			require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
			// Read the logs to their end (the process closes stderr when it exits)
			// before Wait, which would close the pipe under the reader.
			var all []string
			deadline := time.After(20 * time.Second)
		drain:
			for {
				select {
				case l, ok := <-logs:
					if !ok {
						break drain
					}
					all = append(all, l)
				case <-deadline:
					t.Fatal("billd did not stop within 20s of SIGTERM")
				}
			}
			require.NoError(t, cmd.Wait(), "billd should exit 0 on SIGTERM")
			joined := strings.Join(all, "\n")
			require.Contains(t, joined, `"msg":"applied migration"`)
			require.Contains(t, joined, `"msg":"stopped"`)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, "migrate", "-db", dbURL).CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "0 migration(s) applied")
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testenv.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}
