package app

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// gcSettings are the collector's percent (GOGC) and memory limit.
func gcSettings() (percent int64, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()), s[1].Value.Uint64()
}

func TestImportCollectsGarbageOnABudgetAndPutsTheCollectorBack(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	percent, limit := gcSettings()

	s := newSession(t, "gc")
	type setting struct {
		percent int64
		limit   uint64
	}
	var during []setting
	_, err := ImportPaths(context.Background(), s, []string{filepath.Join(fixtures, clemente)}, ImportOptions{Progress: func(done, total int) {
		p, l := gcSettings()
		during = append(during, setting{p, l})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(during) == 0 {
		t.Fatal("no progress was reported")
	}
	for _, d := range during {
		if d.percent != -1 || d.limit > importHeapBudget+(1<<30) {
			t.Fatalf("during the import GOGC = %d, memory limit = %d; want off (-1) and a limit near the budget", d.percent, d.limit)
		}
	}
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("after the import GOGC = %d, memory limit = %d; want %d and %d back", p, l, percent, limit)
	}
}

func TestOverlappingImportsPutTheCollectorBackWhenTheLastEnds(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	percent, limit := gcSettings()
	end1 := importGC()
	end2 := importGC()
	end1()
	end1() // once only
	if p, _ := gcSettings(); p == percent {
		t.Fatal("the collector was put back while an import was still under way")
	}
	end2()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("after both GOGC = %d, memory limit = %d; want %d and %d back", p, l, percent, limit)
	}
}

// A memory limit set lower than the import's budget is kept.
func TestImportKeepsALowerMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(64 << 20))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	end := importGC()
	_, l := gcSettings()
	end()
	if l != 64<<20 {
		t.Fatalf("memory limit during an import = %d, want the 64 MiB set before", l)
	}
}

// When what the import keeps nears the budget (a very large import's index
// and reports), the limit follows it at twice the live heap, as doubling
// would, rather than making the collector run over and over.
func TestImportMemoryLimitFollowsAGrowingLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	end := importGC()
	defer end()
	_, before := gcSettings()
	importGCFollow(100 << 20)
	if _, l := gcSettings(); l != before {
		t.Fatalf("limit moved from %d to %d for a small live heap", before, l)
	}
	importGCFollow(600 << 20)
	if _, l := gcSettings(); l != 1200<<20 {
		t.Fatalf("limit for a live heap of 600 MiB = %d, want 1200 MiB", l)
	}
}
