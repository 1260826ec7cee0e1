package usage

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
)

// Limits of recording usage.
const (
	MaxRecords = 1000 // records one call takes
	MaxKeyLen  = 200  // characters of an idempotency key
)

// RecordInput is one usage record: an idempotency key (unique per account), the
// account-service (its id, or its usage identifier on the record's date), the
// quantity used and the day it was used on.
type RecordInput struct {
	Key              string
	AccountServiceID *int
	UsageIdentifier  *string
	Quantity         money.Decimal
	Date             calendar.Date
}

// validate checks the record at index i without the database.
func (in *RecordInput) validate(i int) error {
	path := fault.Path("records", i)
	n := utf8.RuneCountInString(in.Key)
	switch {
	case n == 0:
		return fault.Invalidf(path+".key", "a record needs a key (1..%d characters)", MaxKeyLen)
	case n > MaxKeyLen:
		return fault.Invalidf(path+".key", "key has %d characters, at most %d", n, MaxKeyLen)
	case !utf8.ValidString(in.Key) || hasControl(in.Key):
		return fault.Invalidf(path+".key", "key holds a control character")
	case in.AccountServiceID == nil && in.UsageIdentifier == nil:
		return fault.Invalidf(path+".accountServiceId", "give the account-service: accountServiceId or usageIdentifier")
	case in.AccountServiceID != nil && in.UsageIdentifier != nil:
		return fault.Invalidf(path+".usageIdentifier", "give accountServiceId or usageIdentifier, not both")
	case in.Quantity.IsNegative():
		return fault.Invalidf(path+".quantity", "quantity %s is negative", in.Quantity)
	case !in.Date.InRange():
		return fault.Invalidf(path+".date", "%s is outside the dates billd accepts, %s to %s", in.Date, calendar.Earliest, calendar.Latest)
	}
	return nil
}

// validateRecords checks a batch's shape: 1..MaxRecords records, each well formed.
func validateRecords(records []RecordInput) error {
	if len(records) == 0 {
		return fault.Invalidf("records", "give at least one record")
	}
	if len(records) > MaxRecords {
		return fault.Invalidf("records", "%d records in one call, at most %d", len(records), MaxRecords)
	}
	for i := range records {
		if err := records[i].validate(i); err != nil {
			return err
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// Result says what a call stored: records newly accepted, and those recorded before
// with the same content (not counted again).
type Result struct {
	Accepted   int
	Duplicates int
}

func (r Result) String() string {
	return fmt.Sprintf("%d accepted, %d duplicates", r.Accepted, r.Duplicates)
}
