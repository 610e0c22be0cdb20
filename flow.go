package smtpfeed

// flow is a destination's concurrency: how many lanes it may have, and
// how much of the waiting work one lane takes.
type flow struct{}

// backingOff reports a destination that must not start new work yet.
func (f *flow) backingOff() bool { return false }

// pending reports a timer of the flow still to fire.
func (f *flow) pending() bool { return false }

// quota is how many of the waiting recipients lane l takes now.
func (d *dest) quota(l *lane, idle int) int { return len(d.waiting) }

// grow opens another lane when the flow allows one.
func (d *dest) grow() {}

func (f *flow) stop(loop interface{}) {}

func (f *flow) String() string { return "" }
