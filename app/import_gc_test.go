package app

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// gcSettings are the collector's percent (GOGC; -1 for off) and memory
// limit.
func gcSettings() (percent int64, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), s[1].Value.Uint64()
}

func TestImportCollectsGarbageOnABudgetAndPutsTheCollectorBack(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	percent, limit := gcSettings()

	s := newSession(t, "gc")
	var during []int64
	_, err := ImportPaths(context.Background(), s, []string{filepath.Join(fixtures, clemente)}, ImportOptions{Progress: func(done, total int) {
		p, l := gcSettings()
		if l != limit {
			t.Errorf("the import set a memory limit: %d", l)
		}
		during = append(during, p)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) == 0 {
		t.Fatal("no progress was reported")
	}
	for _, p := range during {
		// The test's heap is far below the budget: the percent is many
		// times the default.
		if p < 300 {
			t.Fatalf("during the import GOGC = %d, want the budget's", p)
		}
	}
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("after the import GOGC = %d, memory limit = %d; want %d and %d back", p, l, percent, limit)
	}
}

func TestOverlappingImportsPutTheCollectorBackWhenTheLastEnds(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	end1 := importGC()
	end2 := importGC()
	end1()
	end1() // once only
	if p, _ := gcSettings(); p == 100 {
		t.Fatal("the collector was put back while an import was still under way")
	}
	end2()
	if p, _ := gcSettings(); p != 100 {
		t.Fatalf("after both GOGC = %d, want 100 back", p)
	}
}

// The goal stays where the import began plus the budget; a live heap
// that nears it has the collector run at half as much again, never over
// and over; a collector turned off stays off.
func TestImportGCPercentFollowsTheLiveHeap(t *testing.T) {
	const goal = 660 << 20 // 60 MiB live when the import began, and a 600 MiB budget
	for _, c := range []struct {
		live         int64
		before, want int
	}{
		{60 << 20, 100, 1000},
		{110 << 20, 100, 500},
		{330 << 20, 100, 100},
		{440 << 20, 100, 50},
		{2 << 30, 100, 50},
		{110 << 20, 400, 500},
		{110 << 20, -1, -1},
	} {
		if got := importGCPercent(c.live, goal, c.before); got != c.want {
			t.Errorf("live %d MiB, GOGC %d before: %d, want %d", c.live>>20, c.before, got, c.want)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	end := importGC()
	defer end()
	importGCState.Lock()
	importGCState.goal = goal
	importGCState.Unlock()
	importGCFollow(110 << 20)
	if p, _ := gcSettings(); p != 500 {
		t.Fatalf("GOGC for a live heap of 110 MiB = %d, want 500", p)
	}
}

// TestMemoryIsNotReturnedDuringAnImport: the memory an unlock left is
// given back to the system after the unlock, but not while an import is
// under way (its heap would be collected whole and faulted in again).
func TestMemoryIsNotReturnedDuringAnImport(t *testing.T) {
	freed := 0
	free := func() { freed++ }
	end := importGC()
	freeUnlockMemoryWith(free)
	if freed != 0 {
		t.Fatal("the memory was given back to the system during an import")
	}
	end()
	freeUnlockMemoryWith(free)
	if freed != 1 {
		t.Fatalf("the memory was given back %d times after the import, want once", freed)
	}
}
