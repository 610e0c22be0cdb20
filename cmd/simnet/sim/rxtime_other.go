//go:build !linux

package sim

import (
	"net"
	"time"
)

// rxTimeOOB is 0: only Linux stamps arrivals here (rxtime_linux.go);
// elsewhere the burst model counts a query when it is read.
const rxTimeOOB = 0

func enableRxTime(*net.UDPConn) {}

func rxTime(_ []byte, fallback time.Time) time.Time { return fallback }

// connectedAt is when c was accepted: no TCP_INFO here.
func connectedAt(_ net.Conn, accepted time.Time) time.Time { return accepted }
