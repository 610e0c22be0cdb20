package sim

import (
	"math"
	"math/rand/v2"
)

// The shape of the list: how many users each domain has, and where the
// providers' recipients sit in it.
//
// Without providers and skew every domain has Config.Users users, as
// always. Otherwise Domains*Users is the size of the whole list: the
// providers take ProviderShare of it, split evenly, and the ordinary
// domains share the rest, evenly or, with Skew, by a Zipf-like law. No
// domain has fewer than one user, so the total may come out a little
// above.

// userCounts returns the number of users of every domain of the world,
// in index order (ordinary domains, then providers).
func (w *World) userCounts() []int {
	cfg := w.Config
	n := make([]int, len(w.Domains))
	if cfg.Providers == 0 && cfg.Skew == 0 {
		for i := range n {
			n[i] = cfg.Users
		}
		return n
	}
	total := cfg.Domains * cfg.Users
	atProviders := 0
	if cfg.Providers > 0 {
		atProviders = int(math.Round(cfg.ProviderShare * float64(total)))
		spread(n[cfg.Domains:], atProviders)
	}
	if cfg.Skew > 0 {
		zipf(n[:cfg.Domains], total-atProviders, cfg.Skew)
	} else {
		spread(n[:cfg.Domains], total-atProviders)
	}
	return n
}

// spread shares total out evenly over n, the first ones taking the
// remainder; each gets at least one.
func spread(n []int, total int) {
	for i := range n {
		n[i] = total / len(n)
		if i < total%len(n) {
			n[i]++
		}
		n[i] = max(n[i], 1)
	}
}

// zipf gives n[k-1] about t * k^-s / H(s), H(s) being the sum of k^-s
// over the ranks, so sizes never grow with the rank; each gets at least
// one. The domains raised to one would push the sum well over total (by
// 7% for 60,000 over 20,000 domains with s=1), so t is the scale, found
// by bisection, whose sizes sum closest to total.
func zipf(n []int, total int, s float64) {
	w := make([]float64, len(n))
	h := 0.0
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
		h += w[k]
	}
	sizes := func(t float64) int {
		sum := 0
		for k := range n {
			n[k] = max(1, int(math.Round(t*w[k]/h)))
			sum += n[k]
		}
		return sum
	}
	// sizes grows with t. At 2*total it is at least total: rounding
	// loses at most half a user per domain, and no sum is below len(n).
	lo, hi := 0.0, 2*float64(total)
	best, bestOff := 0.0, math.MaxInt
	for range 60 {
		mid := (lo + hi) / 2
		sum := sizes(mid)
		if off := abs(sum - total); off < bestOff {
			best, bestOff = mid, off
		}
		if sum < total {
			lo = mid
		} else {
			hi = mid
		}
	}
	sizes(best)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// interleave spreads the providers' recipients evenly through the list, in
// an order of their own, as on a real list where subscribers at Gmail
// come and go among everybody else's. Ordinary recipients keep their
// order.
func (w *World) interleave(rng *rand.Rand) {
	var plain, prov []*Recipient
	for _, r := range w.Recipients {
		if r.Domain.Kind == KindProvider {
			prov = append(prov, r)
		} else {
			plain = append(plain, r)
		}
	}
	if len(prov) == 0 {
		return
	}
	rng.Shuffle(len(prov), func(i, j int) { prov[i], prov[j] = prov[j], prov[i] })
	n, b := int64(len(w.Recipients)), int64(len(prov))
	out := w.Recipients[:0]
	i, j := 0, 0
	for pos := range n {
		// The j-th provider recipient goes at about position j*n/b.
		if j < len(prov) && (i == len(plain) || pos*b >= int64(j)*n) {
			out = append(out, prov[j])
			j++
		} else {
			out = append(out, plain[i])
			i++
		}
	}
	w.Recipients = out
}
