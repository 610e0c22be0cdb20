package sim

import (
	"container/heap"
	"sync"
	"time"
)

// delayQueue sends delayed answers from one goroutine and one timer,
// however many are pending: a goroutine and a timer per answer cost more
// than the answer itself when 10,000 queries arrive within milliseconds.
type delayQueue struct {
	mu    sync.Mutex
	items delayHeap
	seq   uint64
	wake  chan struct{} // buffered 1: the earliest deadline moved
	stop  chan struct{}
	done  chan struct{}
}

type delayed struct {
	when time.Time
	seq  uint64 // FIFO among equal deadlines
	send func()
}

type delayHeap []delayed

func (h delayHeap) Len() int { return len(h) }
func (h delayHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h delayHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newDelayQueue() *delayQueue {
	q := &delayQueue{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go q.run()
	return q
}

// after schedules send to run d from now.
func (q *delayQueue) after(d time.Duration, send func()) {
	q.mu.Lock()
	q.seq++
	heap.Push(&q.items, delayed{when: time.Now().Add(d), seq: q.seq, send: send})
	first := q.items[0].seq == q.seq
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *delayQueue) run() {
	defer close(q.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []func()
	for {
		q.mu.Lock()
		now := time.Now()
		for len(q.items) > 0 && !q.items[0].when.After(now) {
			due = append(due, heap.Pop(&q.items).(delayed).send)
		}
		wait := time.Hour
		if len(q.items) > 0 {
			wait = q.items[0].when.Sub(now)
		}
		q.mu.Unlock()
		for i, send := range due {
			send()
			due[i] = nil
		}
		due = due[:0]
		t.Reset(wait)
		select {
		case <-t.C:
		case <-q.wake:
		case <-q.stop:
			return
		}
	}
}

// close stops the queue; pending answers are dropped.
func (q *delayQueue) close() {
	close(q.stop)
	<-q.done
}
