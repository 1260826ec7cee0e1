package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/apikey"
	"github.com/billd/billd/ent/partner"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/text"
)

// A key reads billd_<prefix>_<secret>: the prefix (12 lowercase letters and digits)
// names the key in listings and logs and is how it is looked up; only the SHA-256 of
// the secret (at least 32 characters) is stored.
var keyPattern = regexp.MustCompile(`^billd_([a-z0-9]{12})_([A-Za-z0-9_-]{32,128})$`)

// MaxKeyNameLen bounds a key's name, in characters.
const MaxKeyNameLen = text.MaxName

// CreateKeyInput creates an API key.
type CreateKeyInput struct {
	Name      string
	Role      Role
	PartnerID *int       // required for PARTNER keys, refused for others
	ExpiresAt *time.Time // never expires if nil
}

// Validate checks the input without touching the database.
func (in *CreateKeyInput) Validate(now time.Time) error {
	if err := text.Name("input.name", &in.Name, MaxKeyNameLen); err != nil {
		return err
	}
	switch {
	case !in.Role.Valid():
		return fault.Invalidf("input.role", "unknown role %q", in.Role)
	case in.Role == Partner && in.PartnerID == nil:
		return fault.Invalidf("input.partnerId", "a PARTNER key needs a partner")
	case in.Role != Partner && in.PartnerID != nil:
		return fault.Invalidf("input.partnerId", "only PARTNER keys are bound to a partner")
	case in.ExpiresAt != nil && !in.ExpiresAt.After(now):
		return fault.Invalidf("input.expiresAt", "is not in the future")
	}
	return nil
}

// Keys manages API keys and authenticates requests with them.
type Keys struct {
	db     *store.DB
	client *ent.Client
	clock  clock.Clock
	// dummy is compared against when a key is unknown, so an unknown key costs what
	// a wrong secret does.
	dummy []byte

	mu     sync.Mutex
	cache  map[[32]byte]cached    // by the SHA-256 of the whole key
	watch  map[int]map[int]func() // keyID -> session id -> cancel
	nextID int
}

type cached struct {
	p     *Principal
	until time.Time
}

// cacheFor is how long an authenticated key is trusted without asking the database.
// Revocation on this node clears it at once; other nodes see it within this time.
const cacheFor = 5 * time.Second

// NewKeys returns the key service.
func NewKeys(db *store.DB, clk clock.Clock) *Keys {
	d := sha256.Sum256([]byte("billd: no such key"))
	return &Keys{db: db, client: db.Client, clock: clk, dummy: d[:], cache: map[[32]byte]cached{},
		watch: map[int]map[int]func(){}}
}

// Create makes a key and returns it with its secret, which is shown this once.
// BAD_USER_INPUT for a bad name, role, partner or expiry; NOT_FOUND for an unknown
// partner.
func (k *Keys) Create(ctx context.Context, in CreateKeyInput) (*ent.APIKey, string, error) {
	if err := in.Validate(k.clock.Now()); err != nil {
		return nil, "", err
	}
	prefix, secret := newKey()
	key, err := k.insert(ctx, in, prefix, secret)
	if err != nil {
		return nil, "", err
	}
	return key, "billd_" + prefix + "_" + secret, nil
}

func (k *Keys) insert(ctx context.Context, in CreateKeyInput, prefix, secret string) (*ent.APIKey, error) {
	c := store.Client(ctx, k.client)
	if in.PartnerID != nil {
		ok, err := c.Partner.Query().Where(partner.ID(*in.PartnerID)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fault.NotFoundf("input.partnerId", "partner %d not found", *in.PartnerID)
		}
	}
	h := sha256.Sum256([]byte(secret))
	return c.APIKey.Create().SetName(in.Name).SetPrefix(prefix).SetSecretHash(h[:]).
		SetRole(apikey.Role(in.Role)).SetNillablePartnerID(in.PartnerID).
		SetCreatedAt(k.clock.Now()).SetNillableExpiresAt(in.ExpiresAt).Save(ctx)
}

// Bootstrap makes key the first ADMIN key if no key exists yet, so a fresh
// installation can be administered (BILLD_BOOTSTRAP_ADMIN_KEY). It does nothing once
// any key exists. The key must have the form billd_<12 lowercase letters or
// digits>_<32 or more letters, digits, '-' or '_'>.
func (k *Keys) Bootstrap(ctx context.Context, key string) error {
	m := keyPattern.FindStringSubmatch(key)
	if m == nil {
		return fmt.Errorf("bootstrap admin key: must look like billd_<12 lowercase letters or digits>_<at least 32 letters, digits, '-' or '_'>")
	}
	return store.InTx(ctx, k.client, func(ctx context.Context) error {
		c := store.Client(ctx, k.client)
		// Nodes of a cluster start together: one bootstraps, the others wait here and
		// then find its key.
		if err := k.db.LockTable(ctx, c, "api_keys"); err != nil {
			return err
		}
		n, err := c.APIKey.Query().Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		_, err = k.insert(ctx, CreateKeyInput{Name: "bootstrap admin", Role: Admin}, m[1], m[2])
		return err
	})
}

// Revoke revokes a key at once: requests with it fail from now on, and its open
// websocket sessions on this node are closed (other nodes close theirs within the
// revalidation interval). NOT_FOUND for an unknown key; revoking twice is harmless.
func (k *Keys) Revoke(ctx context.Context, id int) (*ent.APIKey, error) {
	c := store.Client(ctx, k.client)
	key, err := c.APIKey.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, fault.NotFoundf("id", "API key %d not found", id)
	} else if err != nil {
		return nil, err
	}
	if key.RevokedAt == nil {
		key, err = c.APIKey.UpdateOne(key).SetRevokedAt(k.clock.Now()).Save(ctx)
		if err != nil {
			return nil, err
		}
	}
	k.forget(id)
	return key, nil
}

// forget drops a key from the cache and closes its sessions.
func (k *Keys) forget(id int) {
	k.mu.Lock()
	for h, c := range k.cache {
		if c.p.KeyID == id {
			delete(k.cache, h)
		}
	}
	sessions := k.watch[id]
	delete(k.watch, id)
	k.mu.Unlock()
	for _, cancel := range sessions {
		cancel()
	}
}

// Authenticate returns the principal of an Authorization header value ("Bearer
// <key>") or of a bare key. UNAUTHENTICATED for a missing, malformed, unknown,
// wrong, expired or revoked key; an unknown key and a wrong secret take the same
// path and the same time.
func (k *Keys) Authenticate(ctx context.Context, header string) (*Principal, error) {
	token := strings.TrimSpace(header)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		return nil, fault.Unauthenticatedf("an API key is required: send Authorization: Bearer <key>")
	}
	whole := sha256.Sum256([]byte(token))
	now := k.clock.Now()
	k.mu.Lock()
	if c, ok := k.cache[whole]; ok && now.Before(c.until) {
		k.mu.Unlock()
		return c.p, nil
	}
	k.mu.Unlock()

	prefix, secret := "", token
	if m := keyPattern.FindStringSubmatch(token); m != nil {
		prefix, secret = m[1], m[2]
	}
	// The lookup runs for malformed keys too (finding nothing), so every refusal
	// costs one query and one comparison. It ignores any principal ctx carries: keys
	// are hidden from all but ADMIN principals.
	key, err := k.client.APIKey.Query().Where(apikey.Prefix(prefix)).Only(Unscoped(ctx))
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	want := k.dummy
	if key != nil {
		want = key.SecretHash
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], want) != 1 || key == nil {
		return nil, fault.Unauthenticatedf("invalid API key")
	}
	if key.RevokedAt != nil {
		return nil, fault.Unauthenticatedf("API key %s was revoked", key.Prefix)
	}
	if key.ExpiresAt != nil && !now.Before(*key.ExpiresAt) {
		return nil, fault.Unauthenticatedf("API key %s has expired", key.Prefix)
	}
	p := &Principal{KeyID: key.ID, KeyName: key.Name, Role: Role(key.Role)}
	if key.PartnerID != nil {
		p.PartnerID = *key.PartnerID
	}
	until := now.Add(cacheFor)
	if key.ExpiresAt != nil && key.ExpiresAt.Before(until) {
		until = *key.ExpiresAt
	}
	k.mu.Lock()
	k.cache[whole] = cached{p: p, until: until}
	k.mu.Unlock()
	return p, nil
}

// Session registers a long-lived connection (a websocket) of key keyID: cancel is
// called when the key is revoked on this node. The returned function unregisters it.
func (k *Keys) Session(keyID int, cancel func()) (done func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nextID++
	id := k.nextID
	if k.watch[keyID] == nil {
		k.watch[keyID] = map[int]func(){}
	}
	k.watch[keyID][id] = cancel
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.watch[keyID], id)
	}
}

// Valid reports whether key id may still be used (not revoked, not expired), asking
// the database: sessions on other nodes check this periodically.
func (k *Keys) Valid(ctx context.Context, id int) (bool, error) {
	key, err := k.client.APIKey.Get(Unscoped(ctx), id)
	if ent.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return key.RevokedAt == nil && (key.ExpiresAt == nil || k.clock.Now().Before(*key.ExpiresAt)), nil
}

// newKey returns a fresh random prefix and secret.
func newKey() (prefix, secret string) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12+32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	p := make([]byte, 12)
	for i := range p {
		p[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(p), base64.RawURLEncoding.EncodeToString(b[12:])
}
