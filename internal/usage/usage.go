// Package usage records what customers use (docs/billing.md 6.2) and keeps the daily
// totals billing reads.
package usage

import (
	"context"
	"sort"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/ent/usagerecord"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// Service records usage.
type Service struct {
	db    *store.DB
	clock clock.Clock
}

// New returns the usage service over db; clk tells today.
func New(db *store.DB, clk clock.Clock) *Service { return &Service{db: db, clock: clk} }

// attempts bounds how often a batch is tried again after losing a race with another
// one (the same key, or the first total of a day, written meanwhile; a deadlock
// between batches creating days in different orders): each retry sees what the other
// wrote.
const attempts = 10

// Record stores a batch of usage records, all or nothing, and adds them to the daily
// totals in the same transaction. A key recorded before (or earlier in the batch)
// with the same content is a duplicate, not counted again. Refusals, each naming the
// record (records[i].field): BAD_USER_INPUT for a malformed record, a service that is
// not USAGE, a quantity finer than the unit's decimals, a date before the
// account-service's effective date (or its package's) or on or after its end or its
// package's cancellation; NOT_FOUND for an unknown account-service, or an identifier
// no account-service had on the record's date; CONFLICT for a key recorded with other
// content.
func (s *Service) Record(ctx context.Context, records []RecordInput) (Result, error) {
	if err := validateRecords(records); err != nil {
		return Result{}, err
	}
	var res Result
	var err error
	for try := 0; try < attempts; try++ {
		res, err = store.InTxValue(ctx, s.db.Client, func(ctx context.Context) (Result, error) {
			return s.record(ctx, store.Client(ctx, s.db.Client), records)
		})
		if err == nil || !store.IsConflict(err) || ctx.Err() != nil {
			break
		}
	}
	if store.IsConflict(err) {
		return Result{}, fault.Conflictf("records", "the batch kept meeting concurrent writes of the same records; send it again")
	}
	return res, err
}

// target is where one record goes.
type target struct {
	accountID, packageID, serviceID int
}

func (s *Service) record(ctx context.Context, c *ent.Client, records []RecordInput) (Result, error) {
	targets, err := resolve(ctx, c, records)
	if err != nil {
		return Result{}, err
	}
	accounts := map[int]bool{}
	for _, t := range targets {
		accounts[t.accountID] = true
	}
	if err := lockAccounts(ctx, s.db, c, setKeys(accounts)); err != nil {
		return Result{}, err
	}
	// Keys already stored for the accounts of the batch.
	type akey struct {
		account int
		key     string
	}
	keys := make([]string, 0, len(records))
	for _, r := range records {
		keys = append(keys, r.Key)
	}
	// By key alone (the index leads with it); records of other accounts that share a
	// key are told apart below.
	stored, err := c.UsageRecord.Query().Where(usagerecord.KeyIn(keys...)).All(ctx)
	if err != nil {
		return Result{}, err
	}
	seen := make(map[akey]*ent.UsageRecord, len(stored))
	for _, u := range stored {
		seen[akey{u.AccountID, u.Key}] = u
	}
	var res Result
	type newRecord struct {
		k akey
		c *ent.UsageRecordCreate
	}
	var fresh []newRecord
	type dayKey struct {
		service int
		day     calendar.Date
	}
	type dayTotal struct {
		account  int
		quantity money.Decimal
		records  int
	}
	days := map[dayKey]*dayTotal{}
	byPackage := map[int]*batchMark{}
	for i, r := range records {
		t := targets[i]
		k := akey{t.accountID, r.Key}
		if prev, ok := seen[k]; ok {
			if prev.AccountServiceID != t.serviceID || !prev.Quantity.Equal(r.Quantity) || !prev.Date.Equal(r.Date) {
				return Result{}, fault.Conflictf(fault.Path("records", i, "key"),
					"key %q was recorded with other content (account-service %d, %s on %s)", r.Key, prev.AccountServiceID, prev.Quantity, prev.Date)
			}
			res.Duplicates++
			continue
		}
		seen[k] = &ent.UsageRecord{AccountID: t.accountID, AccountServiceID: t.serviceID, Key: r.Key, Quantity: r.Quantity, Date: r.Date}
		fresh = append(fresh, newRecord{k, c.UsageRecord.Create().SetKey(r.Key).SetAccountID(t.accountID).
			SetAccountServiceID(t.serviceID).SetQuantity(r.Quantity).SetDate(r.Date)})
		dk := dayKey{t.serviceID, r.Date}
		d := days[dk]
		if d == nil {
			d = &dayTotal{account: t.accountID}
			days[dk] = d
		}
		d.quantity = d.quantity.Add(r.Quantity)
		d.records++
		res.Accepted++
		st := byPackage[t.packageID]
		if st == nil {
			st = &batchMark{earliest: r.Date, services: map[int]bool{}}
			byPackage[t.packageID] = st
		}
		if r.Date.Before(st.earliest) {
			st.earliest = r.Date
		}
		st.services[t.serviceID] = true
	}
	// In key order, so that batches racing for the same keys wait for each other
	// instead of deadlocking (the loser then finds the winner's records).
	sort.Slice(fresh, func(i, j int) bool {
		if fresh[i].k.account != fresh[j].k.account {
			return fresh[i].k.account < fresh[j].k.account
		}
		return fresh[i].k.key < fresh[j].k.key
	})
	builders := make([]*ent.UsageRecordCreate, len(fresh))
	for i, f := range fresh {
		builders[i] = f.c
	}
	for i := 0; i < len(builders); i += 500 {
		if err := c.UsageRecord.CreateBulk(builders[i:min(i+500, len(builders))]...).Exec(ctx); err != nil {
			return Result{}, err
		}
	}
	if len(days) == 0 {
		return res, nil
	}
	// The days' totals: existing ones locked and added to, missing ones created (a
	// concurrent creation fails the unique index and the batch is tried again).
	svcIDs := map[int]bool{}
	dates := map[string]calendar.Date{}
	for dk := range days {
		svcIDs[dk.service] = true
		dates[dk.day.String()] = dk.day
	}
	dayList := make([]calendar.Date, 0, len(dates))
	for _, d := range dates {
		dayList = append(dayList, d)
	}
	// Locked in id order, so batches sharing days wait for each other in line.
	existing, err := store.ForUpdate(s.db, c.UsageDay.Query().Where(usageday.AccountServiceIDIn(setKeys(svcIDs)...),
		usageday.DayIn(dayList...)).Order(ent.Asc(usageday.FieldID))).All(ctx)
	if err != nil {
		return Result{}, err
	}
	var create []*ent.UsageDayCreate
	have := map[dayKey]*ent.UsageDay{}
	for _, d := range existing {
		have[dayKey{d.AccountServiceID, d.Day}] = d
	}
	for _, dk := range sortedDays(days, func(k dayKey) (int, calendar.Date) { return k.service, k.day }) {
		d := days[dk]
		if cur, ok := have[dk]; ok {
			// One UPDATE (UpdateOne would read the row back as well).
			if err := c.UsageDay.Update().Where(usageday.ID(cur.ID)).SetQuantity(cur.Quantity.Add(d.quantity)).
				AddRecords(d.records).Exec(ctx); err != nil {
				return Result{}, err
			}
			continue
		}
		create = append(create, c.UsageDay.Create().SetAccountID(d.account).SetAccountServiceID(dk.service).
			SetDay(dk.day).SetQuantity(d.quantity).SetRecords(d.records))
	}
	for i := 0; i < len(create); i += 500 {
		if err := c.UsageDay.CreateBulk(create[i:min(i+500, len(create))]...).Exec(ctx); err != nil {
			return Result{}, err
		}
	}
	return res, mark(ctx, c, byPackage)
}

// resolve finds each record's account-service and checks the record against it.
func resolve(ctx context.Context, c *ent.Client, records []RecordInput) ([]target, error) {
	ids := map[int]bool{}
	idents := map[string]bool{}
	for _, r := range records {
		if r.AccountServiceID != nil {
			ids[*r.AccountServiceID] = true
		} else {
			idents[*r.UsageIdentifier] = true
		}
	}
	q := c.AccountService.Query().WithService().WithAccountPackage()
	switch {
	case len(ids) > 0 && len(idents) > 0:
		q.Where(accountservice.Or(accountservice.IDIn(setKeys(ids)...), accountservice.UsageIdentifierIn(setKeys(idents)...)))
	case len(ids) > 0:
		q.Where(accountservice.IDIn(setKeys(ids)...))
	default:
		q.Where(accountservice.UsageIdentifierIn(setKeys(idents)...))
	}
	svcs, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[int]*ent.AccountService, len(svcs))
	byIdent := map[string][]*ent.AccountService{}
	for _, sv := range svcs {
		byID[sv.ID] = sv
		if sv.UsageIdentifier != nil {
			byIdent[*sv.UsageIdentifier] = append(byIdent[*sv.UsageIdentifier], sv)
		}
	}
	out := make([]target, len(records))
	for i, r := range records {
		path := fault.Path("records", i)
		var sv *ent.AccountService
		field := path + ".accountServiceId"
		if r.AccountServiceID != nil {
			if sv = byID[*r.AccountServiceID]; sv == nil {
				return nil, fault.NotFoundf(field, "account-service %d not found", *r.AccountServiceID)
			}
		} else {
			field = path + ".usageIdentifier"
			for _, cand := range byIdent[*r.UsageIdentifier] {
				if inService(cand, r.Date) {
					sv = cand
					break
				}
			}
			if sv == nil {
				return nil, fault.NotFoundf(field, "no account-service had usage identifier %q on %s", *r.UsageIdentifier, r.Date)
			}
		}
		if err := check(sv, r, path, field); err != nil {
			return nil, err
		}
		out[i] = target{accountID: sv.Edges.AccountPackage.AccountID, packageID: sv.AccountPackageID, serviceID: sv.ID}
	}
	return out, nil
}

// inService reports whether an account-service (and its package) was in service on
// day: effective on or before it, not ended or canceled on or before it.
func inService(sv *ent.AccountService, day calendar.Date) bool {
	ap := sv.Edges.AccountPackage
	switch {
	case sv.EffectiveDate.After(day), ap.EffectiveDate.After(day):
		return false
	case sv.EndDate != nil && !day.Before(*sv.EndDate):
		return false
	case ap.CancellationDate != nil && !day.Before(*ap.CancellationDate):
		return false
	}
	return true
}

// check refuses a record its account-service cannot take.
func check(sv *ent.AccountService, r RecordInput, path, field string) error {
	svc, ap := sv.Edges.Service, sv.Edges.AccountPackage
	switch {
	case svc.Kind != service.KindUSAGE:
		return fault.Invalidf(field, "account-service %d is a %s service, not USAGE", sv.ID, svc.Kind)
	case r.Quantity.Scale() > int32(svc.UnitDecimals):
		return fault.Invalidf(path+".quantity", "quantity %s has more than the %d decimal places of %s", r.Quantity, svc.UnitDecimals, unit(svc))
	case r.Date.Before(sv.EffectiveDate):
		return fault.Invalidf(path+".date", "%s is before the account-service's effective date %s", r.Date, sv.EffectiveDate)
	case r.Date.Before(ap.EffectiveDate):
		return fault.Invalidf(path+".date", "%s is before the account-package's effective date %s", r.Date, ap.EffectiveDate)
	case sv.EndDate != nil && !r.Date.Before(*sv.EndDate):
		return fault.Invalidf(path+".date", "%s is on or after the account-service's end %s", r.Date, *sv.EndDate)
	case ap.CancellationDate != nil && !r.Date.Before(*ap.CancellationDate):
		return fault.Invalidf(path+".date", "%s is on or after the account-package's cancellation date %s", r.Date, *ap.CancellationDate)
	}
	return nil
}

func unit(svc *ent.Service) string {
	if svc.Unit == nil {
		return "its unit"
	}
	return *svc.Unit
}

// setKeys returns a set's members in order.
func setKeys[K int | string](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// sortedDays returns the days' keys in service, then date order, so concurrent
// batches lock totals in the same order.
func sortedDays[K comparable, V any](m map[K]V, parts func(K) (int, calendar.Date)) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		si, di := parts(out[i])
		sj, dj := parts(out[j])
		if si != sj {
			return si < sj
		}
		return di.Before(dj)
	})
	return out
}
