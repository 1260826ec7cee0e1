package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// errRecordsRefused is returned when an import sent every record but the server
// refused some; the summary has been printed and the exit code is 3.
var errRecordsRefused = errors.New("some usage records were refused")

// maxBatch is the most records recordUsage takes at once.
const maxBatch = 1000

// usageCmd runs `billd usage SUBCOMMAND`.
func usageCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New("usage: billd usage import [-batch N] [-url URL] [-key KEY] FILE")
	}
	fs := flag.NewFlagSet("usage import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	u, key := clientFlags(fs)
	batch := fs.Int("batch", maxBatch, "records per request, 1..1000")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("give one CSV file (- for standard input)")
	}
	if *batch < 1 || *batch > maxBatch {
		return fmt.Errorf("-batch %d is outside 1..%d", *batch, maxBatch)
	}
	c, err := newClient(*u, *key)
	if err != nil {
		return err
	}
	in, total := stdin, 0
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if total, err = countRows(f); err != nil {
			return err
		}
		in = f
	}
	imp := &importer{c: c, batch: *batch, bar: newBar(stderr, stdout, "importing"), total: total, stdout: stdout}
	err = imp.run(ctx, in)
	imp.bar.done()
	fmt.Fprintf(stdout, "accepted %d, duplicates %d, refused %d\n", imp.accepted, imp.duplicates, imp.refused)
	if err != nil {
		return err
	}
	if imp.refused > 0 {
		return errRecordsRefused
	}
	return nil
}

// countRows counts a file's records (less its header) for the progress bar, then
// rewinds it.
func countRows(f *os.File) (int, error) {
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	n := -1
	for {
		if _, err := r.Read(); err == io.EOF {
			break
		} else if err != nil {
			return 0, err
		}
		n++
	}
	_, err := f.Seek(0, io.SeekStart)
	return max(n, 0), err
}

// importer sends a CSV file's records in batches and counts the outcome.
type importer struct {
	c                             *client
	batch                         int
	bar                           *bar
	stdout                        io.Writer
	total, done                   int
	accepted, duplicates, refused int
}

// row is one record of the file and the line it came from.
type row struct {
	line int
	rec  map[string]any
}

// columns maps the header's names (any case; underscores or not) to what they are.
var columns = map[string]string{
	"key": "key", "accountserviceid": "accountServiceId", "usageidentifier": "usageIdentifier",
	"quantity": "quantity", "date": "date",
}

func (imp *importer) run(ctx context.Context, in io.Reader) error {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	names := make([]string, len(header))
	have := map[string]bool{}
	for i, h := range header {
		names[i] = columns[strings.ReplaceAll(strings.ToLower(strings.TrimSpace(h)), "_", "")]
		have[names[i]] = true
	}
	for _, need := range []string{"key", "quantity", "date"} {
		if !have[need] {
			return fmt.Errorf("the header has no %q column (columns: key, accountServiceId or usageIdentifier, quantity, date)", need)
		}
	}
	if !have["accountServiceId"] && !have["usageIdentifier"] {
		return errors.New("the header needs an accountServiceId or a usageIdentifier column")
	}
	var pending []row
	for {
		fields, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			imp.refuse(pe.Line, "%v", pe.Err)
			continue
		}
		if len(fields) != len(header) {
			imp.refuse(line, "%d fields, the header has %d", len(fields), len(header))
			continue
		}
		rec := map[string]any{}
		for i, v := range fields {
			if names[i] != "" && v != "" {
				rec[names[i]] = v
			}
		}
		pending = append(pending, row{line: line, rec: rec})
		if len(pending) == imp.batch {
			if err := imp.send(ctx, pending); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
	if len(pending) > 0 {
		return imp.send(ctx, pending)
	}
	return nil
}

// recordIndex reads the record a refusal names: "records[12].quantity" → 12.
var recordIndex = regexp.MustCompile(`^records\[(\d+)\]`)

// send records a batch. A refusal naming one record drops that record (reported with
// its line) and sends the rest again: the API takes a batch whole or not at all.
// Failures that are not the records' fault are tried again a few times; after that
// the import stops, and running it again resumes it (records already sent count as
// duplicates).
func (imp *importer) send(ctx context.Context, rows []row) error {
	rows = append([]row(nil), rows...)
	tries := 0
	for len(rows) > 0 {
		recs := make([]any, len(rows))
		for i, r := range rows {
			recs[i] = r.rec
		}
		var out struct {
			RecordUsage struct{ Accepted, Duplicates int }
		}
		err := imp.c.do(ctx, `mutation($recs: [UsageRecordInput!]!) { recordUsage(records: $recs) { accepted duplicates } }`,
			map[string]any{"recs": recs}, &out)
		var ae *apiError
		switch {
		case err == nil:
			imp.accepted += out.RecordUsage.Accepted
			imp.duplicates += out.RecordUsage.Duplicates
			imp.done += len(rows)
			imp.bar.set(imp.done+imp.refused, imp.total, imp.refused)
			return nil
		case errors.As(err, &ae) && recordIndex.MatchString(ae.Field):
			i, _ := strconv.Atoi(recordIndex.FindStringSubmatch(ae.Field)[1])
			if i >= len(rows) {
				return err
			}
			field := strings.TrimPrefix(ae.Field[len(recordIndex.FindString(ae.Field)):], ".")
			imp.refuse(rows[i].line, "%s on %s: %s", ae.Code, field, ae.Message)
			rows = append(rows[:i], rows[i+1:]...)
		case errors.As(err, &ae) && ae.Code != "RATE_LIMITED" && ae.Code != "INTERNAL" && ae.Code != "CONFLICT":
			return err // a refusal of the whole request: the key, the role, the size
		default:
			if tries++; tries > 5 || ctx.Err() != nil {
				return fmt.Errorf("sending records (line %d on): %w; run the import again to resume", rows[0].line, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(tries) * 500 * time.Millisecond):
			}
		}
	}
	return nil
}

// refuse reports a record that was not stored.
func (imp *importer) refuse(line int, format string, args ...any) {
	imp.refused++
	imp.bar.note("line %d refused: %s", line, fmt.Sprintf(format, args...))
	imp.bar.set(imp.done+imp.refused, imp.total, imp.refused)
}
