package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// errRunNotClean is returned when a followed run failed, was canceled or had failed
// accounts; the summary has been printed and the exit code is 3.
var errRunNotClean = errors.New("the bill run did not bill every account")

// exitCode maps an error to the process's exit code: 3 for a run that did not bill
// cleanly or an import with refused records, 1 for anything else.
func exitCode(err error) int {
	if errors.Is(err, errRunNotClean) || errors.Is(err, errRecordsRefused) {
		return 3
	}
	return 1
}

// clientFlags registers the flags naming the server and the key.
func clientFlags(fs *flag.FlagSet) (*string, *string) {
	u := fs.String("url", env("BILLD_URL", "http://127.0.0.1:8080"), "billd server (env BILLD_URL)")
	k := fs.String("key", env("BILLD_API_KEY", ""), "API key (env BILLD_API_KEY)")
	return u, k
}

func newClient(u, key string) (*client, error) {
	if key == "" {
		return nil, errors.New("an API key is required: -key or BILLD_API_KEY")
	}
	return &client{base: strings.TrimRight(u, "/"), key: key, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

type idList []string

func (l *idList) String() string     { return strings.Join(*l, ",") }
func (l *idList) Set(v string) error { *l = append(*l, v); return nil }

// bill starts a bill run and follows it to its end.
func bill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, key := clientFlags(fs)
	start := fs.String("period-start", "", "first day billed, YYYY-MM-DD (required)")
	end := fs.String("period-end", "", "last day billed, YYYY-MM-DD (required)")
	posting := fs.String("posting-date", "", "invoices' posting date (default: period end)")
	closeInv := fs.Bool("close-invoices", false, "create the invoices CLOSED")
	var accounts idList
	fs.Var(&accounts, "account", "bill only this account id (repeatable; default: every account)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *start == "" || *end == "" {
		return errors.New("-period-start and -period-end are required")
	}
	c, err := newClient(*u, *key)
	if err != nil {
		return err
	}
	in := map[string]any{"periodStart": *start, "periodEnd": *end, "closeInvoices": *closeInv}
	if *posting != "" {
		in["postingDate"] = *posting
	}
	if len(accounts) > 0 {
		in["accountIds"] = []string(accounts)
	}
	var out struct{ StartBillRun struct{ ID string } }
	if err := c.do(ctx, `mutation($in: BillRunInput!) { startBillRun(input: $in) { id } }`, map[string]any{"in": in}, &out); err != nil {
		return fmt.Errorf("starting the bill run: %w", err)
	}
	fmt.Fprintf(stderr, "bill run %s started for %s..%s\n", out.StartBillRun.ID, *start, *end)
	return watchRun(ctx, c, out.StartBillRun.ID, stdout, stderr)
}

// runs lists bill runs, or follows one (runs watch ID).
func runs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "watch" {
		fs := flag.NewFlagSet("runs watch", flag.ContinueOnError)
		fs.SetOutput(stderr)
		u, key := clientFlags(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return errors.New("usage: billd runs watch [-url URL] [-key KEY] RUN_ID")
		}
		c, err := newClient(*u, *key)
		if err != nil {
			return err
		}
		return watchRun(ctx, c, fs.Arg(0), stdout, stderr)
	}
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, key := clientFlags(fs)
	n := fs.Int("last", 20, "how many of the latest runs to list")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newClient(*u, *key)
	if err != nil {
		return err
	}
	var out struct {
		BillRuns struct {
			TotalCount int
			Edges      []struct{ Node runFigures }
		}
	}
	if err := c.do(ctx, `query($n: Int!) { billRuns(last: $n) { totalCount edges { node { `+runFields+` } } } }`,
		map[string]any{"n": *n}, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tPERIOD\tACCOUNTS\tFAILED\tINVOICES\tCHARGES\tTOTALS\tCREATED")
	edges := out.BillRuns.Edges
	for i := len(edges) - 1; i >= 0; i-- { // newest first
		r := edges[i].Node
		fmt.Fprintf(tw, "%s\t%s\t%s..%s\t%d/%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.Status, r.PeriodStart, r.PeriodEnd,
			r.AccountsProcessed, r.AccountsTotal, r.AccountsFailed, r.InvoicesCreated, r.ChargesCreated, r.totals(), r.CreatedAt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if out.BillRuns.TotalCount > len(edges) {
		fmt.Fprintf(stderr, "%d of %d runs shown (-last N for more)\n", len(edges), out.BillRuns.TotalCount)
	}
	return nil
}

// failuresListed is how many failed accounts the summary lists.
const failuresListed = 100

const runFields = `id status periodStart periodEnd accountsTotal accountsProcessed accountsFailed invoicesCreated
	chargesCreated totals { currency { code } amount } createdAt`

type runFigures struct {
	ID                string
	Status            string
	PeriodStart       string
	PeriodEnd         string
	AccountsTotal     int
	AccountsProcessed int
	AccountsFailed    int
	InvoicesCreated   int
	ChargesCreated    int
	Totals            []struct {
		Currency struct{ Code string }
		Amount   string
	}
	CreatedAt string
}

func (r runFigures) totals() string {
	var s []string
	for _, t := range r.Totals {
		s = append(s, t.Currency.Code+" "+t.Amount)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// watchRun follows a run with a progress bar and prints its summary. It returns
// errRunNotClean when the run failed, was canceled or had failed accounts.
func watchRun(ctx context.Context, c *client, id string, stdout, stderr io.Writer) error {
	b := newBar(stderr, stdout, "billing")
	const sub = `subscription($id: ID!) { billRunProgress(id: $id) { kind message account { id name } billRun { ` + runFields + ` } } }`
	var last runFigures
	err := c.subscribe(ctx, sub, map[string]any{"id": id}, func(data json.RawMessage) error {
		var ev struct {
			BillRunProgress struct {
				Kind    string
				Message *string
				Account *struct{ ID, Name string }
				BillRun runFigures
			}
		}
		if err := json.Unmarshal(data, &ev); err != nil {
			return err
		}
		e := ev.BillRunProgress
		last = e.BillRun
		if e.Kind == "ACCOUNT_FAILED" && e.Account != nil {
			msg := ""
			if e.Message != nil {
				msg = *e.Message
			}
			b.note("account %s (%s) failed: %s", e.Account.ID, e.Account.Name, msg)
		}
		b.set(last.AccountsProcessed, last.AccountsTotal, last.AccountsFailed)
		return nil
	})
	b.done()
	if err != nil {
		return fmt.Errorf("following bill run %s: %w", id, err)
	}
	// The summary reads the finished run, with its first failures and their reasons
	// (one page of them; the count is whole).
	var out struct {
		Node struct {
			runFigures
			FinishedAt       *string
			StartedAt        *string
			ErrorsConnection struct {
				Edges []struct {
					Node struct {
						Account struct{ ID, Name string }
						Message string
					}
				}
			}
		}
	}
	if err := c.do(ctx, `query($id: ID!) { node(id: $id) { ... on BillRun { `+runFields+` startedAt finishedAt
		errorsConnection(first: `+strconv.Itoa(failuresListed)+`) { edges { node { account { id name } message } } } } } }`,
		map[string]any{"id": id}, &out); err != nil {
		return err
	}
	r := out.Node
	fmt.Fprintf(stdout, "bill run %s %s\n", r.ID, r.Status)
	fmt.Fprintf(stdout, "  period     %s..%s\n", r.PeriodStart, r.PeriodEnd)
	fmt.Fprintf(stdout, "  accounts   %d of %d processed, %d failed\n", r.AccountsProcessed, r.AccountsTotal, r.AccountsFailed)
	fmt.Fprintf(stdout, "  invoices   %d\n", r.InvoicesCreated)
	fmt.Fprintf(stdout, "  charges    %d\n", r.ChargesCreated)
	fmt.Fprintf(stdout, "  totals     %s\n", r.totals())
	if r.StartedAt != nil && r.FinishedAt != nil {
		if s, err1 := time.Parse(time.RFC3339, *r.StartedAt); err1 == nil {
			if f, err2 := time.Parse(time.RFC3339, *r.FinishedAt); err2 == nil {
				fmt.Fprintf(stdout, "  took       %s\n", f.Sub(s).Round(time.Millisecond))
			}
		}
	}
	for _, ed := range r.ErrorsConnection.Edges {
		e := ed.Node
		fmt.Fprintf(stdout, "  failed     account %s (%s): %s\n", e.Account.ID, e.Account.Name, e.Message)
	}
	if more := r.AccountsFailed - len(r.ErrorsConnection.Edges); more > 0 {
		fmt.Fprintf(stdout, "  failed     ... and %d more accounts (errorsConnection pages through them all)\n", more)
	}
	if r.Status != "COMPLETED" {
		return errRunNotClean
	}
	return nil
}
