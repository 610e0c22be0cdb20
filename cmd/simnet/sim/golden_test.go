package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestGoldenWorlds: worlds made before the provider, throttle and skew
// knobs existed come out byte for byte as they did; tests and benchmark
// figures compare against them. The hashes are of MarshalIndent's output,
// taken from the generator as it was before those knobs.
func TestGoldenWorlds(t *testing.T) {
	large := DefaultConfig()
	large.Domains, large.Hosts = 10000, 1000
	tls := DefaultConfig()
	tls.StartTLS, tls.TLSBroken, tls.TLS12Only, tls.DANEMatch, tls.DNSSEC = 0.5, 0.05, 0.1, 0.3, true
	rtt := tinyConfig()
	rtt.RTT, rtt.RTTMax, rtt.DNSDelay, rtt.DNSDelayShare = 10*time.Millisecond, 30*time.Millisecond, 50*time.Millisecond, 0.2
	// Throttles without a host to throttle select nothing.
	idle := tinyConfig()
	idle.ProviderMaxConns, idle.ProviderRcptRate = 3, 10
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", DefaultConfig(), "d267af17fe202a031ddc0bbca56d0cba812cee71b95995a4febeb3a7f6e43355"},
		{"tiny", tinyConfig(), "a646db70b757a805c3289ddc1ad2221d700b6675bf3888e65de531888d3ab989"},
		{"large", large, "18dab01f0698e20cd8d8c590d1e7fa68682c95896390c18aa223bcf5e858aca1"},
		{"tls", tls, "50a8064f7719eb6013fdccce41ff5b4c410d1f83b95fbfcecc32cd3ac47547a2"},
		{"rtt", rtt, "62204f23922ea93336ece4aa3fc37545f5b7001082095ae0005c9f7636712cd8"},
		{"idle throttles", idle, "a646db70b757a805c3289ddc1ad2221d700b6675bf3888e65de531888d3ab989"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Generate(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			b, err := w.MarshalIndent()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != tc.want {
				t.Errorf("world JSON sha256: got %s, want %s", got, tc.want)
			}
		})
	}
}
