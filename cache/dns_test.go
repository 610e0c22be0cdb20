package cache

import (
	"testing"
	"time"
)

func TestDNS(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	lim := Limits{MinTTL: time.Minute, MaxTTL: time.Hour, MaxNegativeTTL: 2 * time.Hour, FailureTTL: 30 * time.Second}
	k := Key{Name: "a.test.", Type: 15}
	for _, c := range []struct {
		name    string
		put     func(c *DNS[string])
		at      time.Duration
		key     Key
		wantOK  bool
		wantV   string
		wantNeg Negative
	}{
		{"positive fresh", func(c *DNS[string]) { c.Put(k, "v", 10*time.Minute, t0) }, 9 * time.Minute, k, true, "v", 0},
		{"positive expired", func(c *DNS[string]) { c.Put(k, "v", 10*time.Minute, t0) }, 10 * time.Minute, k, false, "", 0},
		{"short TTL raised to MinTTL", func(c *DNS[string]) { c.Put(k, "v", 0, t0) }, 59 * time.Second, k, true, "v", 0},
		{"long TTL capped at MaxTTL", func(c *DNS[string]) { c.Put(k, "v", 48*time.Hour, t0) }, time.Hour, k, false, "", 0},
		{"NODATA for the SOA minimum", func(c *DNS[string]) { c.PutNegative(k, NoData, 5*time.Minute, t0) }, 4 * time.Minute, k, true, "", NoData},
		{"NODATA expired", func(c *DNS[string]) { c.PutNegative(k, NoData, 5*time.Minute, t0) }, 5 * time.Minute, k, false, "", 0},
		{"NODATA only for its type", func(c *DNS[string]) { c.PutNegative(k, NoData, 5*time.Minute, t0) }, 0, Key{"a.test.", 1}, false, "", 0},
		{"NXDOMAIN covers other types", func(c *DNS[string]) { c.PutNegative(k, NXDomain, 5*time.Minute, t0) }, time.Minute, Key{"a.test.", 1}, true, "", NXDomain},
		{"negative TTL capped", func(c *DNS[string]) { c.PutNegative(k, NXDomain, 24*time.Hour, t0) }, 2 * time.Hour, k, false, "", 0},
		{"failure for FailureTTL", func(c *DNS[string]) { c.PutNegative(k, Failure, 24*time.Hour, t0) }, 29 * time.Second, k, true, "", Failure},
		{"timeout expires after FailureTTL", func(c *DNS[string]) { c.PutNegative(k, Timeout, 24*time.Hour, t0) }, 30 * time.Second, k, false, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDNS[string](lim)
			c.put(d)
			v, neg, ok := d.Get(c.key, t0.Add(c.at))
			if ok != c.wantOK || v != c.wantV || neg != c.wantNeg {
				t.Errorf("Get(%v) at +%v = %q, %v, %v, want %q, %v, %v", c.key, c.at, v, neg, ok, c.wantV, c.wantNeg, c.wantOK)
			}
		})
	}
}

func TestDNSSweep(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDNS[int](DefaultLimits)
	for i := range 3 * sweepAt {
		d.Put(Key{Name: string(rune('a'+i%26)) + ".x.", Type: uint16(i)}, i, 0, t0.Add(time.Duration(i)*time.Second))
	}
	if d.Len() >= 3*sweepAt {
		t.Errorf("Len() = %d after %d puts over %v, want expired entries swept", d.Len(), 3*sweepAt, 3*sweepAt*int(time.Second))
	}
}
