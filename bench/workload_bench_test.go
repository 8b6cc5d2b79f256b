package bench

import (
	"context"
	"testing"
)

// BenchmarkWorkload runs each workload once per iteration, for profiles of the whole
// workload as `ebm bench` runs it:
//
//	go test -run '^$' -bench 'Workload/ring8/dsm' -benchtime 1x -cpuprofile cpu.prof ./bench/
//	go tool pprof -top bench.test cpu.prof
func BenchmarkWorkload(b *testing.B) {
	for _, w := range Workloads() {
		b.Run(w.Name, func(b *testing.B) {
			env := &Env{DataDir: "../examples/data"}
			for range b.N {
				s, err := w.Run(context.Background(), env)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(s.PerStep*1e3, "ms/"+unitShort(w.Unit))
				b.ReportMetric(s.Accuracy, "accuracy")
			}
		})
	}
}

func unitShort(u string) string {
	if u == "epoch" {
		return "epoch"
	}
	return "step"
}
