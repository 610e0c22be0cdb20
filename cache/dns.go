package cache

import "time"

// Key is one DNS question: a canonical name and a record type.
type Key struct {
	Name string
	Type uint16
}

// Negative says why a question has no answer.
type Negative uint8

const (
	NXDomain Negative = iota + 1 // the name does not exist (RFC 2308 §2.1)
	NoData                       // the name exists, not with that type (§2.2)
	Failure                      // server failure or refusal (§7.1)
	Timeout                      // no server answered in time (§7.2)
)

var negativeNames = [...]string{"", "NXDOMAIN", "NODATA", "server failure", "timeout"}

func (n Negative) String() string {
	if int(n) < len(negativeNames) {
		return negativeNames[n]
	}
	return "negative?"
}

// Limits clamp the lifetimes of cached entries.
type Limits struct {
	// MinTTL raises short positive TTLs: within one delivery run, asking
	// again for a record a few seconds old gains nothing.
	MinTTL time.Duration
	// MaxTTL caps long positive TTLs, as CoreDNS and RFC 8767 §4 do, so a
	// long-running session sees changes eventually.
	MaxTTL time.Duration
	// MaxNegativeTTL caps NXDOMAIN/NODATA lifetimes; RFC 2308 §5
	// recommends one to three hours.
	MaxNegativeTTL time.Duration
	// FailureTTL is how long a server failure or timeout is remembered,
	// so a 75-second timeout is not waited for twice (RFC 2308 §7 allows
	// at most five minutes).
	FailureTTL time.Duration
}

// DefaultLimits are the clamps smtpfeed uses unless told otherwise.
var DefaultLimits = Limits{
	MinTTL:         60 * time.Second,
	MaxTTL:         time.Hour,
	MaxNegativeTTL: 3 * time.Hour,
	FailureTTL:     5 * time.Minute,
}

// sweepAt is the entry count at which Put first drops expired entries;
// after each sweep the threshold doubles past the live count, so sweeping
// costs O(1) amortized per Put.
const sweepAt = 4096

type entry[V any] struct {
	value V
	// expires is the entry's end as an offset from the cache's epoch: 8
	// bytes in every entry, where a time.Time takes 24.
	expires time.Duration
	neg     Negative
}

// DNS caches answers to questions: positive entries hold a V, negative
// entries a Negative. Lifetimes are computed on write from the clamps and
// checked on read against the now passed in.
type DNS[V any] struct {
	limits  Limits
	entries map[Key]entry[V]
	sweep   int
	epoch   time.Time // the now of the first write; expiries count from it
}

// NewDNS makes an empty cache with the given clamps.
func NewDNS[V any](limits Limits) *DNS[V] {
	return &DNS[V]{limits: limits, entries: make(map[Key]entry[V]), sweep: sweepAt}
}

// Len counts the entries, expired ones included until swept.
func (c *DNS[V]) Len() int { return len(c.entries) }

func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}

// Put caches v for k for ttl, clamped to [MinTTL, MaxTTL].
func (c *DNS[V]) Put(k Key, v V, ttl time.Duration, now time.Time) {
	c.put(k, entry[V]{value: v, expires: c.since(now) + clamp(ttl, c.limits.MinTTL, c.limits.MaxTTL)}, now)
}

// PutNegative caches a negative answer. NXDOMAIN and NODATA last ttl (the
// SOA minimum), clamped to [MinTTL, MaxNegativeTTL]; Failure and Timeout
// last FailureTTL whatever ttl says. An NXDOMAIN covers every type of the
// name (RFC 2308 §5), so it is also kept under type 0.
func (c *DNS[V]) PutNegative(k Key, neg Negative, ttl time.Duration, now time.Time) {
	life := c.limits.FailureTTL
	if neg == NXDomain || neg == NoData {
		life = clamp(ttl, c.limits.MinTTL, c.limits.MaxNegativeTTL)
	}
	if life <= 0 {
		return
	}
	e := entry[V]{neg: neg, expires: c.since(now) + life}
	c.put(k, e, now)
	if neg == NXDomain {
		c.put(Key{Name: k.Name}, e, now)
	}
}

// since is now as an offset from the epoch, which the first call sets.
func (c *DNS[V]) since(now time.Time) time.Duration {
	if c.epoch.IsZero() {
		c.epoch = now
	}
	return now.Sub(c.epoch)
}

func (c *DNS[V]) put(k Key, e entry[V], now time.Time) {
	c.entries[k] = e
	if len(c.entries) >= c.sweep {
		c.Sweep(now)
		c.sweep = max(sweepAt, 2*len(c.entries))
	}
}

// Get returns what is cached for k: a value (neg == 0) or a negative
// answer, and ok when there is a live entry of either kind.
func (c *DNS[V]) Get(k Key, now time.Time) (v V, neg Negative, ok bool) {
	if e, hit := c.live(k, now); hit {
		return e.value, e.neg, true
	}
	if e, hit := c.live(Key{Name: k.Name}, now); hit && e.neg == NXDomain {
		return v, NXDomain, true
	}
	return v, 0, false
}

func (c *DNS[V]) live(k Key, now time.Time) (entry[V], bool) {
	e, ok := c.entries[k]
	if !ok {
		return e, false
	}
	if c.since(now) >= e.expires {
		delete(c.entries, k)
		return e, false
	}
	return e, true
}

// Sweep drops every expired entry.
func (c *DNS[V]) Sweep(now time.Time) {
	at := c.since(now)
	for k, e := range c.entries {
		if at >= e.expires {
			delete(c.entries, k)
		}
	}
}
