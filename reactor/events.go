package reactor

import "time"

// Events is a set of readiness conditions of a descriptor: what a handler
// asks to be told about, and what it is told.
type Events uint8

const (
	// Readable: data, a new connection, end of file or an error is waiting.
	Readable Events = 1 << iota
	// Writable: output can be written, or a non-blocking connect finished.
	Writable
)

func (e Events) String() string {
	switch e {
	case 0:
		return "none"
	case Readable:
		return "readable"
	case Writable:
		return "writable"
	case Readable | Writable:
		return "readable|writable"
	}
	return "invalid"
}

// Handler is called from the loop when its descriptor is ready. now is the
// pass's single clock reading.
type Handler func(now time.Time, ev Events)
