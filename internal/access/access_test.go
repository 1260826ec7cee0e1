package access_test

// The access rules at the package that holds them: keys, roles, partner scope on the
// ent client, limits and the audit log, on real databases.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/apikey"
	"github.com/billd/billd/ent/auditentry"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/partner"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/statusprice"
	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// eachDialect runs fn as a parallel subtest per database testenv offers.
func eachDialect(t *testing.T, fn func(t *testing.T, dia string)) {
	t.Helper()
	for _, dia := range testenv.Dialects() {
		t.Run(dia, func(t *testing.T) {
			t.Parallel()
			fn(t, dia)
		})
	}
}

// t0 is when every test's clock starts.
var t0 = time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)

// testBundle is a fresh database with the access services over it, scoped as the
// server scopes its client.
type testBundle struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	clk   *clock.Fixed
	keys  *access.Keys
	audit *access.Audit
	accs  *account.Service
}

func setup(t *testing.T, dia string) *testBundle {
	t.Helper()
	db := testenv.OpenDB(t, dia)
	access.Scope(db.Client)
	clk := clock.NewFixed(t0)
	return &testBundle{t: t, ctx: t.Context(), db: db, clk: clk, keys: access.NewKeys(db, clk),
		audit: access.NewAudit(db.Client, clk), accs: account.New(db, clk)}
}

func (b *testBundle) partner(name string) int {
	b.t.Helper()
	p, err := b.accs.CreatePartner(b.ctx, account.CreatePartnerInput{Name: name})
	require.NoError(b.t, err)
	return p.ID
}

// key creates a key and returns it with its secret.
func (b *testBundle) key(in access.CreateKeyInput) (*ent.APIKey, string) {
	b.t.Helper()
	k, secret, err := b.keys.Create(b.ctx, in)
	require.NoError(b.t, err)
	return k, secret
}

func (b *testBundle) keyCount() int {
	b.t.Helper()
	n, err := b.db.Client.APIKey.Query().Count(b.ctx)
	require.NoError(b.t, err)
	return n
}

func (b *testBundle) advance(d time.Duration) { b.clk.Set(b.clk.Now().Add(d)) }

func ptr[T any](v T) *T { return &v }

// requireCode checks that err carries the code (and the field, when given).
func requireCode(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	e, ok := fault.As(err)
	require.True(t, ok, "a coded error, got %v", err)
	require.Equal(t, code, e.Code, "code of %v", err)
	if field != "" {
		require.Equal(t, field, e.Field, "field of %v", err)
	}
}

// documentedKey is the shape docs/access.md and key.go give a key:
// billd_<12 lowercase letters or digits>_<32..128 letters, digits, '-' or '_'>.
var documentedKey = regexp.MustCompile(`^billd_([a-z0-9]{12})_([A-Za-z0-9_-]{32,128})$`)

// TestKeyCreate holds that Create returns a key of the documented shape, shown once:
// only the SHA-256 of its secret is stored, no column holds the secret, and the row
// carries the name, role, partner and times asked for.
func TestKeyCreate(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	pid := b.partner("Reseller")
	expires := t0.Add(24 * time.Hour)

	tests := []struct {
		name string
		in   access.CreateKeyInput
	}{
		{"admin", access.CreateKeyInput{Name: "ops admin", Role: access.Admin}},
		{"operator expiring", access.CreateKeyInput{Name: "  billing team  ", Role: access.Operator, ExpiresAt: &expires}},
		{"read only", access.CreateKeyInput{Name: "dashboards", Role: access.ReadOnly}},
		{"partner", access.CreateKeyInput{Name: "reseller", Role: access.Partner, PartnerID: &pid}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		k, secret := b.key(tt.in)
		mm := documentedKey.FindStringSubmatch(secret)
		require.NotNil(t, mm, "%s: key %q has the documented shape", tt.name, secret)
		require.False(t, seen[secret], "keys are fresh")
		seen[secret] = true
		require.Equal(t, mm[1], k.Prefix, "the prefix names the key")
		h := sha256.Sum256([]byte(mm[2]))
		require.Equal(t, h[:], k.SecretHash, "only the SHA-256 of the secret")
		require.Equal(t, strings.TrimSpace(tt.in.Name), k.Name, "the name is trimmed")
		require.Equal(t, string(tt.in.Role), string(k.Role))
		require.True(t, t0.Equal(k.CreatedAt))
		require.Nil(t, k.RevokedAt)
		if tt.in.PartnerID != nil {
			require.Equal(t, pid, *k.PartnerID)
		} else {
			require.Nil(t, k.PartnerID)
		}
		if tt.in.ExpiresAt != nil {
			require.True(t, expires.Equal(*k.ExpiresAt))
		} else {
			require.Nil(t, k.ExpiresAt)
		}

		// What the database holds: the hash, and nowhere the secret or the key.
		stored, err := b.db.Client.APIKey.Get(b.ctx, k.ID)
		require.NoError(t, err)
		require.Equal(t, h[:], stored.SecretHash)
		rows, err := b.db.SQL.QueryContext(b.ctx, "SELECT * FROM api_keys WHERE id = ?", k.ID)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		require.True(t, rows.Next())
		vals := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(dest...))
		for i, v := range vals {
			require.NotContains(t, string(v), mm[2], "column %s holds the secret", cols[i])
		}
		require.NoError(t, rows.Close())

		p, err := b.keys.Authenticate(b.ctx, secret)
		require.NoError(t, err, "%s: a new key authenticates", tt.name)
		require.Equal(t, k.ID, p.KeyID)
	}
	require.Equal(t, len(tests), b.keyCount())
}

// TestKeyCreateValidation holds Create's refusals and their codes: BAD_USER_INPUT on
// the field at fault for the name, role, partner binding and expiry, NOT_FOUND for an
// unknown partner; a refused key is not written.
func TestKeyCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	pid := b.partner("Reseller")
	now := t0

	tests := []struct {
		name  string
		in    access.CreateKeyInput
		code  fault.Code
		field string
	}{
		{"empty name", access.CreateKeyInput{Name: "  ", Role: access.Admin}, fault.Invalid, "input.name"},
		{"name too long", access.CreateKeyInput{Name: strings.Repeat("é", access.MaxKeyNameLen+1), Role: access.Admin}, fault.Invalid, "input.name"},
		{"control character", access.CreateKeyInput{Name: "a\x00b", Role: access.Admin}, fault.Invalid, "input.name"},
		{"unknown role", access.CreateKeyInput{Name: "k", Role: "ROOT"}, fault.Invalid, "input.role"},
		{"no role", access.CreateKeyInput{Name: "k"}, fault.Invalid, "input.role"},
		{"partner key without partner", access.CreateKeyInput{Name: "k", Role: access.Partner}, fault.Invalid, "input.partnerId"},
		{"admin key with partner", access.CreateKeyInput{Name: "k", Role: access.Admin, PartnerID: &pid}, fault.Invalid, "input.partnerId"},
		{"operator key with partner", access.CreateKeyInput{Name: "k", Role: access.Operator, PartnerID: &pid}, fault.Invalid, "input.partnerId"},
		{"expires now", access.CreateKeyInput{Name: "k", Role: access.Admin, ExpiresAt: &now}, fault.Invalid, "input.expiresAt"},
		{"expired", access.CreateKeyInput{Name: "k", Role: access.Admin, ExpiresAt: ptr(now.Add(-time.Second))}, fault.Invalid, "input.expiresAt"},
		{"unknown partner", access.CreateKeyInput{Name: "k", Role: access.Partner, PartnerID: ptr(pid + 1000)}, fault.NotFound, "input.partnerId"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				k, secret, err := b.keys.Create(b.ctx, tt.in)
				requireCode(t, err, tt.code, tt.field)
				require.Nil(t, k)
				require.Empty(t, secret)
			})
		}
	})
	require.Zero(t, b.keyCount(), "no refused key was written")

	// The longest name is allowed: MaxKeyNameLen characters, not bytes.
	_, _, err := b.keys.Create(b.ctx, access.CreateKeyInput{Name: strings.Repeat("é", access.MaxKeyNameLen), Role: access.Admin})
	require.NoError(t, err)
	require.Equal(t, 1, b.keyCount())
}

// TestAuthenticate holds who a header authenticates as: a good key (bare or as a
// Bearer header) is its principal; a missing, malformed, unknown, wrong, revoked or
// expired key is UNAUTHENTICATED.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		pid := b.partner("Reseller")
		admin, adminKey := b.key(access.CreateKeyInput{Name: "admin", Role: access.Admin})
		part, partKey := b.key(access.CreateKeyInput{Name: "reseller", Role: access.Partner, PartnerID: &pid})
		revoked, revokedKey := b.key(access.CreateKeyInput{Name: "old", Role: access.Operator})
		_, err := b.keys.Revoke(b.ctx, revoked.ID)
		require.NoError(t, err)
		_, expiredKey := b.key(access.CreateKeyInput{Name: "temp", Role: access.ReadOnly, ExpiresAt: ptr(t0.Add(time.Minute))})
		b.advance(time.Minute) // the temp key's expiry: no longer valid from this instant

		other := strings.Repeat("x", 43)
		tests := []struct {
			name   string
			header string
			want   *access.Principal // nil: refused
		}{
			{"bare admin key", adminKey, &access.Principal{KeyID: admin.ID, KeyName: "admin", Role: access.Admin}},
			{"bearer header", "Bearer " + adminKey, &access.Principal{KeyID: admin.ID, KeyName: "admin", Role: access.Admin}},
			{"bearer any case and spaces", "  bEaReR   " + adminKey + "  ", &access.Principal{KeyID: admin.ID, KeyName: "admin", Role: access.Admin}},
			{"partner key", "Bearer " + partKey, &access.Principal{KeyID: part.ID, KeyName: "reseller", Role: access.Partner, PartnerID: pid}},
			{"empty", "", nil},
			{"bearer only", "Bearer ", nil},
			{"malformed", "Bearer not-a-key", nil},
			{"basic scheme", "Basic " + adminKey, nil},
			{"unknown prefix", "billd_zzzzzzzzzzzz_" + other, nil},
			{"wrong secret", "billd_" + admin.Prefix + "_" + other, nil},
			{"secret of another key", "billd_" + admin.Prefix + "_" + strings.SplitN(partKey, "_", 3)[2], nil},
			{"revoked", revokedKey, nil},
			{"expired", expiredKey, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := b.keys.Authenticate(b.ctx, tt.header)
				if tt.want == nil {
					requireCode(t, err, fault.Unauthenticated, "")
					require.Nil(t, p)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, p)
			})
		}
		// The refusals say why, for a revoked and an expired key.
		_, err = b.keys.Authenticate(b.ctx, revokedKey)
		require.ErrorContains(t, err, "revoked")
		_, err = b.keys.Authenticate(b.ctx, expiredKey)
		require.ErrorContains(t, err, "expired")
	})
}

// TestKeyExpiry holds that a key works until the instant it expires, even when it was
// cached: the cache never outlives the key.
func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	k, secret := b.key(access.CreateKeyInput{Name: "short", Role: access.Operator, ExpiresAt: ptr(t0.Add(2 * time.Second))})

	_, err := b.keys.Authenticate(b.ctx, secret) // cached from here
	require.NoError(t, err)
	b.clk.Set(t0.Add(2*time.Second - time.Nanosecond))
	_, err = b.keys.Authenticate(b.ctx, secret)
	require.NoError(t, err, "valid until its expiry")
	ok, err := b.keys.Valid(b.ctx, k.ID)
	require.NoError(t, err)
	require.True(t, ok)

	b.clk.Set(t0.Add(2 * time.Second))
	_, err = b.keys.Authenticate(b.ctx, secret)
	requireCode(t, err, fault.Unauthenticated, "")
	ok, err = b.keys.Valid(b.ctx, k.ID)
	require.NoError(t, err)
	require.False(t, ok, "an expired key is not valid")
}

// TestKeyCacheAndRevoke holds the cache rules: a key authenticated once is trusted for
// 5 seconds (cacheFor) without the database, so a revocation made elsewhere (another
// node) takes effect within that time; Revoke on this node takes effect at once, closes
// the key's sessions, is harmless twice, and is NOT_FOUND for an unknown key.
func TestKeyCacheAndRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")

	t.Run("revoked elsewhere", func(t *testing.T) {
		k, secret := b.key(access.CreateKeyInput{Name: "elsewhere", Role: access.Operator})
		start := b.clk.Now()
		_, err := b.keys.Authenticate(b.ctx, secret)
		require.NoError(t, err)
		// Another node revokes it: straight in the database, this node's cache untouched.
		require.NoError(t, b.db.Client.APIKey.UpdateOneID(k.ID).SetRevokedAt(start).Exec(b.ctx))
		ok, err := b.keys.Valid(b.ctx, k.ID)
		require.NoError(t, err)
		require.False(t, ok, "Valid asks the database")

		b.clk.Set(start.Add(5*time.Second - time.Nanosecond))
		p, err := b.keys.Authenticate(b.ctx, secret)
		require.NoError(t, err, "trusted from the cache for cacheFor")
		require.Equal(t, k.ID, p.KeyID)
		b.clk.Set(start.Add(5 * time.Second))
		_, err = b.keys.Authenticate(b.ctx, secret)
		requireCode(t, err, fault.Unauthenticated, "")
		require.ErrorContains(t, err, "revoked")
	})

	t.Run("revoked here", func(t *testing.T) {
		k, secret := b.key(access.CreateKeyInput{Name: "here", Role: access.Operator})
		other, otherSecret := b.key(access.CreateKeyInput{Name: "bystander", Role: access.Operator})
		_, err := b.keys.Authenticate(b.ctx, secret)
		require.NoError(t, err)
		_, err = b.keys.Authenticate(b.ctx, otherSecret)
		require.NoError(t, err)

		var closed, left, bystander int
		b.keys.Session(k.ID, func() { closed++ })
		b.keys.Session(k.ID, func() { closed++ })
		done := b.keys.Session(k.ID, func() { left++ })
		done() // a session that ended before the revocation is not closed again
		b.keys.Session(other.ID, func() { bystander++ })

		at := b.clk.Now()
		got, err := b.keys.Revoke(b.ctx, k.ID)
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		require.True(t, at.Equal(*got.RevokedAt))
		require.Equal(t, 2, closed, "open sessions are closed at once")
		require.Zero(t, left)
		require.Zero(t, bystander, "other keys' sessions stay")

		_, err = b.keys.Authenticate(b.ctx, secret)
		requireCode(t, err, fault.Unauthenticated, "") // at once: no time passed
		_, err = b.keys.Authenticate(b.ctx, otherSecret)
		require.NoError(t, err, "other keys stay cached and valid")

		b.advance(time.Hour)
		again, err := b.keys.Revoke(b.ctx, k.ID)
		require.NoError(t, err, "revoking twice is harmless")
		require.True(t, at.Equal(*again.RevokedAt), "the first revocation time stays")
		require.Equal(t, 2, closed)

		// Revoked keys are kept, never deleted, so audit entries keep naming them.
		exists, err := b.db.Client.APIKey.Query().Where(apikey.ID(k.ID)).Exist(b.ctx)
		require.NoError(t, err)
		require.True(t, exists)
	})

	t.Run("unknown", func(t *testing.T) {
		_, err := b.keys.Revoke(b.ctx, 1<<40)
		requireCode(t, err, fault.NotFound, "id")
		ok, err := b.keys.Valid(b.ctx, 1<<40)
		require.NoError(t, err)
		require.False(t, ok)
	})
}

// TestBootstrap holds the first-key rule: a well-formed key becomes the one ADMIN key
// of an empty database and authenticates; a malformed key is refused and writes
// nothing; once any key exists Bootstrap does nothing.
func TestBootstrap(t *testing.T) {
	t.Parallel()
	const prefix = "abcdefghij01"
	secret32 := strings.Repeat("S", 31) + "-"
	good := "billd_" + prefix + "_" + secret32

	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sqlite")
		for _, key := range []string{
			"",
			"billd_abcdefghij1_" + secret32,   // prefix of 11
			"billd_abcdefghij012_" + secret32, // prefix of 13
			"billd_ABCDEFGHIJ01_" + secret32,  // capitals in the prefix
			"billd_" + prefix + "_" + strings.Repeat("S", 31),       // secret of 31
			"billd_" + prefix + "_" + strings.Repeat("S", 129),      // secret of 129
			"billd_" + prefix + "_" + strings.Repeat("S", 31) + "!", // '!' in the secret
			"bill_" + prefix + "_" + secret32,                       // not billd_
			"Bearer " + good,                                        // a header, not a key
			good + "\n",                                             // trailing newline
			" " + good,                                              // leading space
			"billd_" + prefix + secret32,                            // no separator
			"billd_" + prefix + "_" + strings.Repeat("é", 32),       // not ASCII
			"billd_" + prefix + "_" + strings.Repeat("S", 16) + " " + secret32[:15], // a space
		} {
			require.Error(t, b.keys.Bootstrap(b.ctx, key), "key %q", key)
		}
		require.Zero(t, b.keyCount(), "a refused bootstrap key is not written")
	})

	for _, tt := range []struct{ name, secret string }{
		{"shortest secret", secret32},
		{"longest secret", strings.Repeat("a_-Z9", 25) + "abc"}, // 128
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "sqlite")
			key := "billd_" + prefix + "_" + tt.secret
			require.NoError(t, b.keys.Bootstrap(b.ctx, key))
			keys, err := b.db.Client.APIKey.Query().All(b.ctx)
			require.NoError(t, err)
			require.Len(t, keys, 1)
			require.Equal(t, apikey.RoleADMIN, keys[0].Role)
			require.Equal(t, prefix, keys[0].Prefix)
			require.Equal(t, "bootstrap admin", keys[0].Name)
			h := sha256.Sum256([]byte(tt.secret))
			require.Equal(t, h[:], keys[0].SecretHash)
			p, err := b.keys.Authenticate(b.ctx, "Bearer "+key)
			require.NoError(t, err)
			require.Equal(t, access.Admin, p.Role)

			// Once a key exists, a second bootstrap does nothing, whatever its key.
			second := "billd_zyxwvutsrq98_" + strings.Repeat("T", 40)
			require.NoError(t, b.keys.Bootstrap(b.ctx, second))
			require.NoError(t, b.keys.Bootstrap(b.ctx, key))
			require.Equal(t, 1, b.keyCount())
			_, err = b.keys.Authenticate(b.ctx, second)
			requireCode(t, err, fault.Unauthenticated, "")
		})
	}

	t.Run("after another key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "sqlite")
		b.key(access.CreateKeyInput{Name: "reader", Role: access.ReadOnly})
		require.NoError(t, b.keys.Bootstrap(b.ctx, good))
		require.Equal(t, 1, b.keyCount(), "any key, of any role, disables bootstrap")
		_, err := b.keys.Authenticate(b.ctx, good)
		requireCode(t, err, fault.Unauthenticated, "")
	})
}

// TestBootstrapConcurrently holds that nodes starting together make one first key:
// each bootstraps with its own key, all succeed, and exactly one key exists.
func TestBootstrapConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		const nodes = 4
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, nodes)
			keys  = make([]string, nodes)
		)
		for i := range nodes {
			keys[i] = fmt.Sprintf("billd_node%08d_%s", i, strings.Repeat("k", 40))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = b.keys.Bootstrap(b.ctx, keys[i])
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "node %d", i)
		}
		require.Equal(t, 1, b.keyCount())
		works := 0
		for _, k := range keys {
			if p, err := b.keys.Authenticate(b.ctx, k); err == nil {
				require.Equal(t, access.Admin, p.Role)
				works++
			}
		}
		require.Equal(t, 1, works, "exactly one node's key became the admin key")
	})
}

// TestRoleAllows holds the permission table: Read for every role, WriteAccounts for
// ADMIN, OPERATOR and PARTNER, Operate for ADMIN and OPERATOR, Administer for ADMIN
// only; an unknown role or permission allows nothing.
func TestRoleAllows(t *testing.T) {
	t.Parallel()
	perms := []access.Permission{access.Read, access.WriteAccounts, access.Operate, access.Administer, "delete-everything"}
	tests := []struct {
		role  access.Role
		valid bool
		want  []bool // in the order of perms
	}{
		{access.Admin, true, []bool{true, true, true, true, false}},
		{access.Operator, true, []bool{true, true, true, false, false}},
		{access.ReadOnly, true, []bool{true, false, false, false, false}},
		{access.Partner, true, []bool{true, true, false, false, false}},
		{"ROOT", false, []bool{false, false, false, false, false}},
		{"admin", false, []bool{false, false, false, false, false}},
		{"", false, []bool{false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.valid, tt.role.Valid())
			for i, p := range perms {
				require.Equal(t, tt.want[i], tt.role.Allows(p), "%q allows %q", tt.role, p)
			}
		})
	}
	require.Equal(t, []access.Role{access.Admin, access.Operator, access.ReadOnly, access.Partner}, access.Roles)
}

// world is a catalog, two partners with an account each and an account of no
// partner, with something of every scoped kind hanging off each account.
type world struct {
	usd, active, suspended int
	p1, p2                 int
	acc                    [3]int // acc[0] has no partner, acc[1] is p1's, acc[2] p2's
	ap                     [3]int
	svcs                   [3][]int
	override               [3]int // p1's and p2's accounts override a price
	catalogPrices          []int
	invoice, line, change  [3]int
	runError               [3]int
	run, batch             int
	keys                   []int
	audit                  int
	services               []int
}

func d(s string) calendar.Date { return calendar.MustParse(s) }
func m(s string) money.Decimal { return money.MustParse(s) }

func (b *testBundle) world() *world {
	b.t.Helper()
	t, ctx, c := b.t, b.ctx, b.db.Client
	w := &world{}
	usd, err := c.Currency.Query().Where(currency.Code("USD")).Only(ctx)
	require.NoError(t, err)
	w.usd = usd.ID
	for code, id := range map[string]*int{"ACTIVE": &w.active, "SUSPENDED": &w.suspended} {
		st, err := c.Status.Query().Where(status.Code(code)).Only(ctx)
		require.NoError(t, err)
		*id = st.ID
	}
	cat := catalog.New(c)
	for _, name := range []string{"Service A", "Service B"} {
		s, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: name, Kind: service.KindRECURRING})
		require.NoError(t, err)
		w.services = append(w.services, s.ID)
	}
	var prices []*catalog.ServicePriceInput
	var pss []*catalog.PackageServiceInput
	for i, s := range w.services {
		prices = append(prices, &catalog.ServicePriceInput{ServiceID: s, Currency: "USD",
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m([]string{"50.00", "25.00"}[i])}}})
		pss = append(pss, &catalog.PackageServiceInput{ServiceID: s})
	}
	pkg, err := cat.CreatePackage(ctx, catalog.CreatePackageInput{Name: "Duo", Currencies: []string{"USD"}, Services: pss,
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH, Prices: prices}}})
	require.NoError(t, err)
	freq, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).Only(ctx)
	require.NoError(t, err)
	w.catalogPrices, err = c.StatusPrice.Query().Where(statusprice.AccountServiceIDIsNil()).IDs(ctx)
	require.NoError(t, err)
	require.Len(t, w.catalogPrices, 2)

	w.p1, w.p2 = b.partner("Partner One"), b.partner("Partner Two")
	run, err := c.BillRun.Create().SetPeriodStart(d("2024-01-01")).SetPeriodEnd(d("2024-01-31")).
		SetPostingDate(d("2024-01-31")).SetCreatedAt(t0).Save(ctx)
	require.NoError(t, err)
	w.run = run.ID
	prov := provisioning.New(b.db, b.clk)
	for i, pid := range []*int{nil, &w.p1, &w.p2} {
		a, err := b.accs.Create(ctx, account.CreateAccountInput{Name: fmt.Sprintf("Account %d", i), Currency: "USD",
			BillDay: 1, PartnerID: pid})
		require.NoError(t, err)
		w.acc[i] = a.ID
		in := provisioning.ProvisionPackageInput{AccountID: a.ID, PackageID: pkg.ID, FrequencyID: freq.ID,
			EffectiveDate: d("2024-01-01")}
		if i > 0 {
			in.Services = []*provisioning.AccountServiceInput{{ServiceID: w.services[0],
				PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("40.00")}}}}
		}
		aps, err := prov.Provision(ctx, in)
		require.NoError(t, err)
		w.ap[i] = aps[0].ID
		w.svcs[i], err = c.AccountService.Query().Where(accountservice.AccountPackageID(w.ap[i])).
			Order(ent.Asc(accountservice.FieldID)).IDs(ctx)
		require.NoError(t, err)
		require.Len(t, w.svcs[i], 2)
		if i > 0 {
			ov, err := c.StatusPrice.Query().Where(statusprice.AccountServiceID(w.svcs[i][0])).Only(ctx)
			require.NoError(t, err)
			w.override[i] = ov.ID
		}
		inv, err := c.Invoice.Create().SetNumber(fmt.Sprintf("INV-%010d", i+1)).SetAccountID(a.ID).SetCurrencyID(w.usd).
			SetBillRunID(w.run).SetIssueDate(d("2024-01-31")).SetPostingDate(d("2024-01-31")).SetTotal(m("75.00")).Save(ctx)
		require.NoError(t, err)
		w.invoice[i] = inv.ID
		ch, err := c.Charge.Create().SetKind(charge.KindRECURRING).SetDescription("Service A").SetAccountID(a.ID).
			SetAccountPackageID(w.ap[i]).SetAccountServiceID(w.svcs[i][0]).SetInvoiceID(inv.ID).SetQuantity(1).
			SetUnitAmount(m("50.00")).SetAmount(m("50.00")).SetGuard(fmt.Sprintf("test:%d", i)).Save(ctx)
		require.NoError(t, err)
		w.line[i] = ch.ID
		sc, err := c.StatusChange.Create().SetAccountServiceID(w.svcs[i][1]).SetAccountID(a.ID).
			SetFromStatusID(w.active).SetToStatusID(w.suspended).SetChangedOn(d("2024-01-10")).Save(ctx)
		require.NoError(t, err)
		w.change[i] = sc.ID
		re, err := c.BillRunError.Create().SetBillRunID(w.run).SetAccountID(a.ID).SetMessage("failed").Save(ctx)
		require.NoError(t, err)
		w.runError[i] = re.ID
	}
	batch, err := c.BillRunBatch.Create().SetBillRunID(w.run).SetSeq(1).SetFirstAccountID(w.acc[0]).
		SetLastAccountID(w.acc[2]).SetAccounts(3).Save(ctx)
	require.NoError(t, err)
	w.batch = batch.ID
	for _, in := range []access.CreateKeyInput{{Name: "admin", Role: access.Admin}, {Name: "p1", Role: access.Partner, PartnerID: &w.p1}} {
		k, _ := b.key(in)
		w.keys = append(w.keys, k.ID)
	}
	require.NoError(t, b.audit.Record(ctx, access.Entry{Operation: "createAccount", IDs: []int{w.acc[1]}, Success: true}))
	ae, err := c.AuditEntry.Query().Only(ctx)
	require.NoError(t, err)
	w.audit = ae.ID
	return w
}

func as(ctx context.Context, role access.Role, partnerID int) context.Context {
	return access.WithPrincipal(ctx, &access.Principal{KeyID: 1, KeyName: "test", Role: role, PartnerID: partnerID})
}

func sorted(ids ...int) []int {
	out := append([]int{}, ids...)
	slices.Sort(out)
	if out == nil {
		out = []int{}
	}
	return out
}

// TestScopeQueries holds what each principal sees: a PARTNER key only its partner,
// its accounts and what hangs off them (account-packages, services and their price
// overrides, status changes, invoices, charges, bill-run errors), catalog prices and
// bill runs but no batches; only ADMIN sees API keys and the audit log; no principal,
// and Unscoped, see everything.
func TestScopeQueries(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()
		c := b.db.Client

		queries := []struct {
			name string
			ids  func(ctx context.Context) ([]int, error)
			all  []int
			// of is what partner i (1 or 2) sees; nil: the same as all.
			of func(i int) []int
			// adminOnly: only ADMIN principals (and none) see these rows.
			adminOnly bool
		}{
			{"partners", func(ctx context.Context) ([]int, error) { return c.Partner.Query().IDs(ctx) },
				sorted(w.p1, w.p2), func(i int) []int { return []int{[]int{0, w.p1, w.p2}[i]} }, false},
			{"accounts", func(ctx context.Context) ([]int, error) { return c.Account.Query().IDs(ctx) },
				sorted(w.acc[:]...), func(i int) []int { return []int{w.acc[i]} }, false},
			{"account-packages", func(ctx context.Context) ([]int, error) { return c.AccountPackage.Query().IDs(ctx) },
				sorted(w.ap[:]...), func(i int) []int { return []int{w.ap[i]} }, false},
			{"account-services", func(ctx context.Context) ([]int, error) { return c.AccountService.Query().IDs(ctx) },
				sorted(slices.Concat(w.svcs[:]...)...), func(i int) []int { return sorted(w.svcs[i]...) }, false},
			{"status prices", func(ctx context.Context) ([]int, error) { return c.StatusPrice.Query().IDs(ctx) },
				sorted(append(w.catalogPrices, w.override[1], w.override[2])...),
				func(i int) []int { return sorted(append(w.catalogPrices, w.override[i])...) }, false},
			{"invoices", func(ctx context.Context) ([]int, error) { return c.Invoice.Query().IDs(ctx) },
				sorted(w.invoice[:]...), func(i int) []int { return []int{w.invoice[i]} }, false},
			{"charges", func(ctx context.Context) ([]int, error) { return c.Charge.Query().IDs(ctx) },
				sorted(w.line[:]...), func(i int) []int { return []int{w.line[i]} }, false},
			{"status changes", func(ctx context.Context) ([]int, error) { return c.StatusChange.Query().IDs(ctx) },
				sorted(w.change[:]...), func(i int) []int { return []int{w.change[i]} }, false},
			{"bill-run errors", func(ctx context.Context) ([]int, error) { return c.BillRunError.Query().IDs(ctx) },
				sorted(w.runError[:]...), func(i int) []int { return []int{w.runError[i]} }, false},
			{"bill runs", func(ctx context.Context) ([]int, error) { return c.BillRun.Query().IDs(ctx) },
				[]int{w.run}, nil, false},
			{"bill-run batches", func(ctx context.Context) ([]int, error) { return c.BillRunBatch.Query().IDs(ctx) },
				[]int{w.batch}, func(int) []int { return []int{} }, false},
			{"services (catalog)", func(ctx context.Context) ([]int, error) { return c.Service.Query().IDs(ctx) },
				sorted(w.services...), nil, false},
			{"API keys", func(ctx context.Context) ([]int, error) { return c.APIKey.Query().IDs(ctx) },
				sorted(w.keys...), func(int) []int { return []int{} }, true},
			{"audit entries", func(ctx context.Context) ([]int, error) { return c.AuditEntry.Query().IDs(ctx) },
				[]int{w.audit}, func(int) []int { return []int{} }, true},
			// Edges from visible rows reach only visible rows.
			{"a bill run's invoices", func(ctx context.Context) ([]int, error) {
				return c.BillRun.Query().Where(billrun.ID(w.run)).QueryInvoices().IDs(ctx)
			}, sorted(w.invoice[:]...), func(i int) []int { return []int{w.invoice[i]} }, false},
			{"partner two's accounts", func(ctx context.Context) ([]int, error) {
				return c.Partner.Query().Where(partner.ID(w.p2)).QueryAccounts().IDs(ctx)
			}, []int{w.acc[2]}, func(i int) []int { return [][]int{nil, {}, {w.acc[2]}}[i] }, false},
			{"a service's charges", func(ctx context.Context) ([]int, error) {
				return c.AccountService.Query().Where(accountservice.IDIn(w.svcs[0][0], w.svcs[1][0], w.svcs[2][0])).
					QueryCharges().IDs(ctx)
			}, sorted(w.line[:]...), func(i int) []int { return []int{w.line[i]} }, false},
		}
		base := b.ctx
		for _, q := range queries {
			t.Run(q.name, func(t *testing.T) {
				see := func(ctx context.Context) []int {
					t.Helper()
					ids, err := q.ids(ctx)
					require.NoError(t, err)
					return sorted(ids...)
				}
				none := []int{}
				require.Equal(t, q.all, see(base), "no principal sees everything")
				require.Equal(t, q.all, see(as(base, access.Admin, 0)), "ADMIN")
				for _, role := range []access.Role{access.Operator, access.ReadOnly} {
					want := q.all
					if q.adminOnly {
						want = none
					}
					require.Equal(t, want, see(as(base, role, 0)), "%s", role)
				}
				for i, pid := range []int{0, w.p1, w.p2} {
					if i == 0 {
						continue
					}
					ctx := as(base, access.Partner, pid)
					want := q.all
					if q.of != nil {
						want = sorted(q.of(i)...)
					}
					require.Equal(t, want, see(ctx), "partner %d", i)
					require.Equal(t, q.all, see(access.Unscoped(ctx)), "Unscoped(partner %d) sees everything", i)
				}
			})
		}

		// Out of scope is missing: Get answers not found, counts leave it out.
		p1 := as(base, access.Partner, w.p1)
		_, err := c.Account.Get(p1, w.acc[2])
		require.True(t, ent.IsNotFound(err), "another partner's account is not found: %v", err)
		_, err = c.Account.Get(p1, w.acc[0])
		require.True(t, ent.IsNotFound(err), "an account of no partner is not found: %v", err)
		_, err = c.Invoice.Get(p1, w.invoice[2])
		require.True(t, ent.IsNotFound(err))
		got, err := c.Account.Get(p1, w.acc[1])
		require.NoError(t, err)
		require.Equal(t, w.acc[1], got.ID)
		n, err := c.Charge.Query().Count(p1)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		// Inside a transaction the scope holds too (the transaction's client shares it).
		require.NoError(t, store.InTx(p1, c, func(ctx context.Context) error {
			ids, err := store.Client(ctx, c).Account.Query().IDs(ctx)
			require.Equal(t, []int{w.acc[1]}, ids)
			return err
		}))
	})
}

// TestScopeMutations holds a partner's writes to its scope: a row it creates must hang
// off an account, account-package or account-service it can see (else NOT_FOUND, and
// nothing written); updates and deletes reach only rows it can see; keys and audit
// entries billd writes on its behalf are not refused.
func TestScopeMutations(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()
		c := b.db.Client
		p1 := as(b.ctx, access.Partner, w.p1)
		counts := func() map[string]int {
			out := map[string]int{}
			for _, tbl := range []string{"accounts", "account_packages", "account_services", "status_prices",
				"invoices", "charges", "status_changes"} {
				var n int
				require.NoError(t, b.db.SQL.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&n))
				out[tbl] = n
			}
			return out
		}

		refused := []struct {
			name   string
			create func(ctx context.Context, i int) error // i: whose account (0, 1, 2)
		}{
			{"account", func(ctx context.Context, i int) error {
				cr := c.Account.Create().SetName("New").SetCurrencyID(w.usd).SetBillDay(1)
				if i > 0 {
					cr.SetPartnerID([]int{0, w.p1, w.p2}[i])
				}
				return cr.Exec(ctx)
			}},
			{"account-package", func(ctx context.Context, i int) error {
				ap, err := c.AccountPackage.Get(b.ctx, w.ap[i])
				require.NoError(t, err)
				return c.AccountPackage.Create().SetAccountID(w.acc[i]).SetPackageID(ap.PackageID).
					SetFrequencyID(ap.FrequencyID).SetStatusID(w.active).SetEffectiveDate(d("2024-02-01")).
					SetChargeFullPeriod(false).SetPostpaid(false).Exec(ctx)
			}},
			{"account-service", func(ctx context.Context, i int) error {
				return c.AccountService.Create().SetAccountPackageID(w.ap[i]).SetServiceID(w.services[0]).
					SetStatusID(w.active).SetQuantity(1).SetEffectiveDate(d("2024-02-01")).Exec(ctx)
			}},
			{"price override", func(ctx context.Context, i int) error {
				return c.StatusPrice.Create().SetAccountServiceID(w.svcs[i][1]).SetStatusID(w.active).
					SetAmount(m("1.00")).Exec(ctx)
			}},
			{"invoice", func(ctx context.Context, i int) error {
				return c.Invoice.Create().SetNumber(fmt.Sprintf("INV-9%09d", i)).SetAccountID(w.acc[i]).
					SetCurrencyID(w.usd).SetIssueDate(d("2024-02-01")).SetPostingDate(d("2024-02-01")).
					SetTotal(m("0.00")).Exec(ctx)
			}},
			{"charge", func(ctx context.Context, i int) error {
				return c.Charge.Create().SetKind(charge.KindONE_TIME).SetDescription("x").SetAccountID(w.acc[i]).
					SetQuantity(1).SetUnitAmount(m("1.00")).SetAmount(m("1.00")).
					SetGuard(fmt.Sprintf("scope-test:%d", i)).Exec(ctx)
			}},
			{"status change", func(ctx context.Context, i int) error {
				return c.StatusChange.Create().SetAccountServiceID(w.svcs[i][0]).SetAccountID(w.acc[i]).
					SetFromStatusID(w.active).SetToStatusID(w.suspended).SetChangedOn(d("2024-02-01")).Exec(ctx)
			}},
		}
		for _, tt := range refused {
			t.Run("create "+tt.name, func(t *testing.T) {
				before := counts()
				for _, i := range []int{0, 2} {
					err := tt.create(p1, i)
					requireCode(t, err, fault.NotFound, "")
					require.Equal(t, before, counts(), "a refused create writes nothing")
				}
				require.NoError(t, tt.create(p1, 1), "on its own account it may")
			})
		}

		// The services refuse the same, NOT_FOUND: provisioning another partner's account.
		ap, err := c.AccountPackage.Get(b.ctx, w.ap[2])
		require.NoError(t, err)
		_, err = provisioning.New(b.db, b.clk).Provision(p1, provisioning.ProvisionPackageInput{AccountID: w.acc[2],
			PackageID: ap.PackageID, FrequencyID: ap.FrequencyID, EffectiveDate: d("2024-02-01")})
		requireCode(t, err, fault.NotFound, "input.accountId")

		// Updates and deletes reach only what the partner sees.
		err = c.Account.UpdateOneID(w.acc[2]).SetName("Taken").Exec(p1)
		require.True(t, ent.IsNotFound(err), "updating another partner's account: %v", err)
		n, err := c.Account.Update().SetName("Renamed").Save(p1)
		require.NoError(t, err)
		require.Equal(t, 2, n, "its own account and the one it created")
		for i, want := range []string{"Account 0", "Renamed", "Account 2"} {
			a, err := c.Account.Get(b.ctx, w.acc[i])
			require.NoError(t, err)
			require.Equal(t, want, a.Name)
		}
		err = c.StatusChange.DeleteOneID(w.change[2]).Exec(p1)
		require.True(t, ent.IsNotFound(err), "deleting another partner's status change: %v", err)
		n, err = c.StatusChange.Delete().Exec(p1)
		require.NoError(t, err)
		require.Equal(t, 2, n, "its own status change and the one it created")
		left, err := c.StatusChange.Query().IDs(b.ctx)
		require.NoError(t, err)
		require.Equal(t, sorted(w.change[0], w.change[2]), sorted(left...))

		// What billd writes on a partner's behalf is not refused: its audit entries, keys.
		require.NoError(t, b.audit.Record(p1, access.Entry{Operation: "updateAccount", IDs: []int{w.acc[1]}, Success: true}))
		_, _, err = b.keys.Create(p1, access.CreateKeyInput{Name: "by partner", Role: access.ReadOnly})
		require.NoError(t, err)
	})
}

// TestLimiterRequests holds the request token bucket: Burst requests at once, then
// RatePerSecond a second, refilled in exact integer time on the injected clock, per
// key; the wait it reports is exact (at least a millisecond); -1 turns it off.
func TestLimiterRequests(t *testing.T) {
	t.Parallel()

	t.Run("burst then rate", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewFixed(t0)
		l := access.NewLimiter(access.Limits{RatePerSecond: 2, Burst: 3}, clk)
		for i := range 3 {
			ok, wait := l.Allow(1)
			require.True(t, ok, "request %d of the burst", i+1)
			require.Zero(t, wait)
		}
		ok, wait := l.Allow(1)
		require.False(t, ok)
		// Empty: one token is a second's worth at 2 a second, 500 ms.
		require.Equal(t, 500*time.Millisecond, wait)
		ok, _ = l.Allow(2)
		require.True(t, ok, "another key has a bucket of its own")

		clk.Set(t0.Add(499 * time.Millisecond))
		ok, wait = l.Allow(1)
		require.False(t, ok)
		// 499 ms earned 998 ms of token: 2 ms of token are missing, 1 ms at rate 2.
		require.Equal(t, time.Millisecond, wait)
		clk.Set(t0.Add(500 * time.Millisecond))
		ok, _ = l.Allow(1)
		require.True(t, ok, "one token exactly 500 ms after the bucket emptied")
		ok, wait = l.Allow(1)
		require.False(t, ok)
		require.Equal(t, 500*time.Millisecond, wait)

		// A full refill takes burst/rate = 1.5 s; more time adds nothing above the burst.
		clk.Set(t0.Add(time.Hour))
		for range 3 {
			ok, _ = l.Allow(1)
			require.True(t, ok)
		}
		ok, _ = l.Allow(1)
		require.False(t, ok, "refilled to the burst, not beyond")
	})

	t.Run("sub-millisecond wait", func(t *testing.T) {
		t.Parallel()
		clk := clock.NewFixed(t0)
		l := access.NewLimiter(access.Limits{RatePerSecond: 4, Burst: 1}, clk)
		ok, _ := l.Allow(7)
		require.True(t, ok)
		clk.Set(t0.Add(250*time.Millisecond - time.Nanosecond))
		ok, wait := l.Allow(7)
		require.False(t, ok)
		// 249,999,999 ns × 4 = 999,999,996 token-ns: 4 missing, 1 ns at rate 4; reported
		// as the 1 ms floor.
		require.Equal(t, time.Millisecond, wait)
		clk.Set(t0.Add(250 * time.Millisecond))
		ok, _ = l.Allow(7)
		require.True(t, ok, "the last nanosecond brings the token")
	})

	t.Run("off", func(t *testing.T) {
		t.Parallel()
		l := access.NewLimiter(access.Limits{RatePerSecond: -1}, clock.NewFixed(t0))
		for range 1000 {
			ok, wait := l.Allow(1)
			require.True(t, ok)
			require.Zero(t, wait)
		}
	})
}

// TestLimiterAuthFailures holds the failed-authentication bucket per client address:
// an address that spent its burst on failures is refused until tokens refill; asking
// spends nothing; other addresses are unaffected; -1 turns it off.
func TestLimiterAuthFailures(t *testing.T) {
	t.Parallel()
	clk := clock.NewFixed(t0)
	l := access.NewLimiter(access.Limits{AuthFailureRate: 1, AuthFailureBurst: 3}, clk)
	const addr, other = "192.0.2.1", "192.0.2.2"

	ok, _ := l.AuthAllowed(addr)
	require.True(t, ok, "an address with no failures")
	l.AuthFailed(addr)
	l.AuthFailed(addr)
	for range 5 {
		ok, _ = l.AuthAllowed(addr)
		require.True(t, ok, "two failures of a burst of three; asking spends nothing")
	}
	l.AuthFailed(addr)
	ok, wait := l.AuthAllowed(addr)
	require.False(t, ok, "the burst is spent")
	require.Equal(t, time.Second, wait, "one token at 1 a second")
	ok, _ = l.AuthAllowed(other)
	require.True(t, ok, "another address")

	clk.Set(t0.Add(time.Second - time.Nanosecond))
	ok, wait = l.AuthAllowed(addr)
	require.False(t, ok)
	require.Equal(t, time.Millisecond, wait, "1 ns missing, reported as the 1 ms floor")
	clk.Set(t0.Add(time.Second))
	ok, _ = l.AuthAllowed(addr)
	require.True(t, ok, "a good client recovers a second after the guessing stops")
	l.AuthFailed(addr)
	ok, _ = l.AuthAllowed(addr)
	require.False(t, ok, "one failure spends the refilled token")

	// Three seconds refill the whole burst.
	clk.Set(t0.Add(4 * time.Second))
	for range 3 {
		ok, _ = l.AuthAllowed(addr)
		require.True(t, ok)
		l.AuthFailed(addr)
	}
	ok, _ = l.AuthAllowed(addr)
	require.False(t, ok)

	off := access.NewLimiter(access.Limits{AuthFailureRate: -1}, clk)
	for range 100 {
		off.AuthFailed(addr)
	}
	ok, _ = off.AuthAllowed(addr)
	require.True(t, ok)
}

// TestLimiterCounts holds the connection, subscription and pending-websocket caps:
// up to the limit per key (per address for pending websockets), a refused acquisition
// counts nothing, release frees one slot once however often it is called, and -1 means
// no limit.
func TestLimiterCounts(t *testing.T) {
	t.Parallel()
	type acquire func(l *access.Limiter, who int) (func(), bool)
	kinds := []struct {
		name    string
		limits  access.Limits
		acquire acquire
	}{
		{"connections", access.Limits{Connections: 2}, func(l *access.Limiter, k int) (func(), bool) { return l.Connect(k) }},
		{"subscriptions", access.Limits{Subscriptions: 2}, func(l *access.Limiter, k int) (func(), bool) { return l.Subscribe(k) }},
		{"pending websockets", access.Limits{PendingWebsockets: 2}, func(l *access.Limiter, k int) (func(), bool) {
			return l.PendingWebsocket(fmt.Sprintf("198.51.100.%d", k))
		}},
	}
	for _, tt := range kinds {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := access.NewLimiter(tt.limits, clock.NewFixed(t0))
			r1, ok := tt.acquire(l, 1)
			require.True(t, ok)
			r2, ok := tt.acquire(l, 1)
			require.True(t, ok)
			r3, ok := tt.acquire(l, 1)
			require.False(t, ok, "the third is over the limit of 2")
			require.Nil(t, r3)
			_, ok = tt.acquire(l, 1)
			require.False(t, ok, "a refusal counted nothing to free")
			rOther, ok := tt.acquire(l, 2)
			require.True(t, ok, "another key or address counts apart")

			r1()
			r1() // released twice: frees one slot, once
			r4, ok := tt.acquire(l, 1)
			require.True(t, ok)
			_, ok = tt.acquire(l, 1)
			require.False(t, ok, "a double release freed one slot only")
			r2()
			r4()
			for range 2 {
				_, ok = tt.acquire(l, 1)
				require.True(t, ok, "all released")
			}
			rOther()
		})
	}

	t.Run("off and defaults", func(t *testing.T) {
		t.Parallel()
		l := access.NewLimiter(access.Limits{Connections: -1, Subscriptions: -1, PendingWebsockets: -1}, clock.NewFixed(t0))
		for range 500 {
			_, ok := l.Connect(1)
			require.True(t, ok)
			_, ok = l.Subscribe(1)
			require.True(t, ok)
			_, ok = l.PendingWebsocket("203.0.113.1")
			require.True(t, ok)
		}
		// Zero takes the default: 20 connections per key.
		def := access.NewLimiter(access.Limits{}, clock.NewFixed(t0))
		for i := range 20 {
			_, ok := def.Connect(1)
			require.True(t, ok, "connection %d", i+1)
		}
		_, ok := def.Connect(1)
		require.False(t, ok)
	})
}

// TestLimitsWithDefaults holds the defaults: zero takes DefaultLimits, a burst of zero
// is at least the rate, a negative limit stays off, and introspection is on unless set.
func TestLimitsWithDefaults(t *testing.T) {
	t.Parallel()
	z := access.Limits{}.WithDefaults()
	want := access.Limits{RatePerSecond: 50, Burst: 100, Connections: 20, PendingWebsockets: 10, Subscriptions: 100,
		MaxBodyBytes: 1 << 20, MaxDepth: 12, MaxComplexity: 250000, MaxPageSize: 100, MaxListRows: 250, MaxNodes: 100,
		AuthFailureRate: 1, AuthFailureBurst: 20, Introspection: true}
	require.Equal(t, want, z)

	fast := access.Limits{RatePerSecond: 500, AuthFailureRate: 40}.WithDefaults()
	require.Equal(t, 500, fast.Burst, "the burst is at least the rate")
	require.Equal(t, 40, fast.AuthFailureBurst)

	off := access.Limits{RatePerSecond: -1, Connections: -1, Subscriptions: -1, AuthFailureRate: -1,
		IntrospectionSet: true}.WithDefaults()
	require.Equal(t, -1, off.RatePerSecond)
	require.Equal(t, -1, off.Connections)
	require.Equal(t, -1, off.Subscriptions)
	require.Equal(t, -1, off.AuthFailureRate)
	require.False(t, off.Introspection, "introspection set off stays off")
	require.Equal(t, 100, access.NewLimiter(access.Limits{}, clock.NewFixed(t0)).Limits().Burst)
}

// TestAuditRecord holds what an audit entry keeps: who (from the context's
// principal) and when (the clock), the operation and outcome, at most MaxAuditIDs ids
// (the first), at most MaxAuditMessage characters of message, and
// RefusedBeforeExecution; it is written even when the request's context is canceled.
func TestAuditRecord(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		pid := b.partner("Reseller")
		admin := &access.Principal{KeyID: 11, KeyName: "ops", Role: access.Admin}
		part := &access.Principal{KeyID: 12, KeyName: "reseller", Role: access.Partner, PartnerID: pid}
		count := func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = 1000 + i
			}
			return out
		}
		long := strings.Repeat("a", 600)
		wide := strings.Repeat("é", 501)

		tests := []struct {
			name      string
			principal *access.Principal
			entry     access.Entry
			ids       []int
			message   *string
		}{
			{"success", admin, access.Entry{Operation: "createAccount", IDs: []int{5, 9}, Success: true},
				[]int{5, 9}, nil},
			{"no ids", admin, access.Entry{Operation: "seed", Success: true}, []int{}, nil},
			{"ids at the limit", admin, access.Entry{Operation: "startBillRun", IDs: count(access.MaxAuditIDs), Success: true},
				count(100), nil},
			{"ids over the limit", admin, access.Entry{Operation: "startBillRun", IDs: count(150), Success: true},
				count(100), nil},
			{"refusal", part, access.Entry{Operation: "updateAccount", IDs: []int{3}, ErrorCode: "NOT_FOUND",
				Message: "account 3 not found"}, []int{3}, ptr("account 3 not found")},
			{"message at the limit", admin, access.Entry{Operation: "x", ErrorCode: "BAD_USER_INPUT",
				Message: long[:500]}, []int{}, ptr(long[:500])},
			{"long message", admin, access.Entry{Operation: "x", ErrorCode: "BAD_USER_INPUT", Message: long},
				[]int{}, ptr(long[:499] + "…")},
			{"long message in characters", admin, access.Entry{Operation: "x", ErrorCode: "BAD_USER_INPUT", Message: wide},
				[]int{}, ptr(strings.Repeat("é", 499) + "…")},
			{"refused before execution", part, access.Entry{Operation: "createAccount", ErrorCode: "QUERY_TOO_DEEP",
				Message: "too deep", RefusedBeforeExecution: true}, []int{}, ptr("too deep")},
			{"no principal", nil, access.Entry{Operation: "internal", Success: true}, []int{}, nil},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				at := t0.Add(time.Duration(i) * time.Minute)
				b.clk.Set(at)
				ctx, cancel := context.WithCancel(b.ctx)
				if tt.principal != nil {
					ctx = access.WithPrincipal(ctx, tt.principal)
				}
				cancel() // the request is gone; its audit entry is still written
				op := fmt.Sprintf("%s#%d", tt.entry.Operation, i)
				tt.entry.Operation = op
				require.NoError(t, b.audit.Record(ctx, tt.entry))

				e, err := b.db.Client.AuditEntry.Query().Where(auditentry.Operation(op)).Only(b.ctx)
				require.NoError(t, err)
				require.True(t, at.Equal(e.At), "written at the clock's time")
				require.Equal(t, tt.ids, append([]int{}, e.Ids...))
				require.Equal(t, tt.entry.Success, e.Success)
				require.Equal(t, tt.entry.RefusedBeforeExecution, e.RefusedBeforeExecution)
				if tt.message == nil {
					require.Nil(t, e.Message)
				} else {
					require.NotNil(t, e.Message)
					require.Equal(t, *tt.message, *e.Message)
					require.LessOrEqual(t, utf8.RuneCountInString(*e.Message), access.MaxAuditMessage)
				}
				if tt.entry.ErrorCode == "" {
					require.Nil(t, e.ErrorCode)
				} else {
					require.Equal(t, tt.entry.ErrorCode, *e.ErrorCode)
				}
				switch p := tt.principal; {
				case p == nil:
					require.Nil(t, e.KeyID)
					require.Equal(t, "", e.KeyName)
					require.Equal(t, "", e.Role)
					require.Nil(t, e.PartnerID)
				default:
					require.Equal(t, p.KeyID, *e.KeyID)
					require.Equal(t, p.KeyName, e.KeyName)
					require.Equal(t, string(p.Role), e.Role)
					if p.PartnerID == 0 {
						require.Nil(t, e.PartnerID)
					} else {
						require.Equal(t, p.PartnerID, *e.PartnerID)
					}
				}
			})
		}
	})
}
