//go:build !unix

package sim

import (
	"fmt"
	"net/netip"
)

// Dead hosts need a backlog-0 listen, which this package does only on
// unix systems.
type deadHost struct {
	host *Host
	addr netip.Addr
}

func listenDead(h *Host, ap netip.AddrPort) (*deadHost, error) {
	return nil, fmt.Errorf("sim: dead host %s at %v: not supported on this system", h.Name, ap)
}

func (d *deadHost) fill(netip.AddrPort) error { return nil }
func (d *deadHost) close()                    {}
func (d *deadHost) port() (uint16, error)     { return 0, nil }
