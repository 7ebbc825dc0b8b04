package share

import "sync"

// fairQueue runs jobs keyed by share ID on a bounded number of workers,
// one job per share at a time, taking shares in turn: a share with many
// waiting jobs goes to the back of the line after each one. So a flood of
// passcode guesses on one share occupies at most one worker, and any other
// share's check waits for at most one job of each share ahead of it.
//
// The queue holds only jobs in flight (no share state): a second process
// serving the same store has its own queue and the same guarantees.
type fairQueue struct {
	mu      sync.Mutex
	workers int
	busy    int
	waiting map[string][]*fairJob
	running map[string]bool
	turn    []string // shares with waiting jobs and none running, in turn order
}

type fairJob struct {
	fn   func()
	done chan struct{}
}

func newFairQueue(workers int) *fairQueue {
	return &fairQueue{workers: max(workers, 1), waiting: map[string][]*fairJob{}, running: map[string]bool{}}
}

// do runs fn in key's turn and returns when it has run.
func (q *fairQueue) do(key string, fn func()) {
	j := &fairJob{fn: fn, done: make(chan struct{})}
	q.mu.Lock()
	if len(q.waiting[key]) == 0 && !q.running[key] {
		q.turn = append(q.turn, key)
	}
	q.waiting[key] = append(q.waiting[key], j)
	q.dispatch()
	q.mu.Unlock()
	<-j.done
}

// dispatch starts jobs while workers are free; q.mu is held.
func (q *fairQueue) dispatch() {
	for q.busy < q.workers && len(q.turn) > 0 {
		key := q.turn[0]
		q.turn = q.turn[1:]
		jobs := q.waiting[key]
		j := jobs[0]
		if len(jobs) == 1 {
			delete(q.waiting, key)
		} else {
			q.waiting[key] = jobs[1:]
		}
		q.running[key] = true
		q.busy++
		go q.run(key, j)
	}
}

func (q *fairQueue) run(key string, j *fairJob) {
	defer func() {
		close(j.done)
		q.mu.Lock()
		q.busy--
		delete(q.running, key)
		if len(q.waiting[key]) > 0 {
			q.turn = append(q.turn, key)
		}
		q.dispatch()
		q.mu.Unlock()
	}()
	j.fn()
}

// keyedLocks are mutexes per exact key (not stripes, so two shares never
// wait for each other), dropped when nobody holds or waits for them.
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
