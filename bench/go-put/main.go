// A cell's client in Go: the same closed loop as bench/load.ts (N goroutines
// sharing one client, each issuing its next put as soon as the last one
// ended; a warm-up, then one measured window), printing the same lines as
// bench/drive.ts: one at the start and at the end of the window, then one
// JSON LoadResult. Targets, as drive.ts's:
//
//	http  PUT <url><prefix><key> with a 100-byte text body through net/http
//	      (http.go, Go's standard library alone)
//	etcd  Put through etcd's own clientv3 (etcd.go, built with -tags etcd)
//
// Built by the benchmark at run time, offline: the etcd binary against
// Debian's golang-etcd-server-dev sources (GO111MODULE=off,
// GOPATH=/usr/share/gocode).
// Usage: go-put '{"target":"etcd","url":"http://127.0.0.1:2379","concurrency":64,"warmupMs":2000,"windowMs":10000,"timeoutMs":10000}'
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type spec struct {
	Target      string  `json:"target"`
	URL         string  `json:"url"`
	Prefix      string  `json:"prefix"`
	Concurrency int     `json:"concurrency"`
	WarmupMs    float64 `json:"warmupMs"`
	WindowMs    float64 `json:"windowMs"`
	TimeoutMs   float64 `json:"timeoutMs"`
}

// Field for field what bench/load.ts's LoadResult holds.
type result struct {
	Concurrency    int     `json:"concurrency"`
	Ops            int     `json:"ops"`
	Errors         int     `json:"errors"`
	FirstError     *string `json:"firstError"`
	ElapsedMs      float64 `json:"elapsedMs"`
	OpsPerSecond   float64 `json:"opsPerSecond"`
	P50Ms          float64 `json:"p50Ms"`
	P99Ms          float64 `json:"p99Ms"`
	MeanMs         float64 `json:"meanMs"`
	CPUMicros      float64 `json:"cpuMicros"`
	CPUMicrosPerOp float64 `json:"cpuMicrosPerOp"`
}

// One put of the value for `index`; every goroutine calls it on the one client.
type operation func(index int64) error

// How a target's client is made; the targets this binary was built with register here.
type target func(s spec) (op operation, close func(), err error)

var targets = map[string]target{}

// The same keys and values as bench/load.ts: 1024 keys, 100-byte values.
const keysMax = 1024
const errorPause = 10 * time.Millisecond

func keyOf(index int64) string { return fmt.Sprintf("k%d", index%keysMax) }

func valueOf(index int64) string {
	tail := fmt.Sprintf("%012d", index)
	return strings.Repeat("v", 100-len(tail)) + tail
}

func cpuMicros() float64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	micros := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e6 + float64(t.Usec) }
	return micros(usage.Utime) + micros(usage.Stime)
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	index := int(float64(len(sorted)) * p / 100)
	if index >= len(sorted) {
		index = len(sorted) - 1
	}
	return float64(sorted[index]) / 1e6
}

func run(s spec, put operation) result {
	var measuring, stopped int32
	var issued int64
	var mutex sync.Mutex
	errors := 0
	var firstError *string
	latencies := make([][]time.Duration, s.Concurrency)
	var workers sync.WaitGroup
	for worker := 0; worker < s.Concurrency; worker++ {
		workers.Add(1)
		go func(worker int) {
			defer workers.Done()
			for atomic.LoadInt32(&stopped) == 0 {
				index := atomic.AddInt64(&issued, 1) - 1
				start := time.Now()
				err := put(index)
				elapsed := time.Since(start)
				if err != nil {
					if atomic.LoadInt32(&measuring) == 1 {
						mutex.Lock()
						errors++
						if firstError == nil {
							text := err.Error()
							firstError = &text
						}
						mutex.Unlock()
					}
					time.Sleep(errorPause)
					continue
				}
				if atomic.LoadInt32(&measuring) == 1 && atomic.LoadInt32(&stopped) == 0 {
					latencies[worker] = append(latencies[worker], elapsed)
				}
			}
		}(worker)
	}
	time.Sleep(time.Duration(s.WarmupMs * float64(time.Millisecond)))
	atomic.StoreInt32(&measuring, 1)
	fmt.Println("window start")
	cpuStart := cpuMicros()
	started := time.Now()
	time.Sleep(time.Duration(s.WindowMs * float64(time.Millisecond)))
	atomic.StoreInt32(&stopped, 1)
	elapsed := time.Since(started)
	cpu := cpuMicros() - cpuStart
	fmt.Println("window end")
	workers.Wait()

	var all []time.Duration
	for _, mine := range latencies {
		all = append(all, mine...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	var sum time.Duration
	for _, latency := range all {
		sum += latency
	}
	ops := len(all)
	elapsedMs := float64(elapsed) / 1e6
	out := result{
		Concurrency: s.Concurrency, Ops: ops, Errors: errors, FirstError: firstError, ElapsedMs: elapsedMs,
		OpsPerSecond: float64(ops) * 1000 / elapsedMs, P50Ms: percentile(all, 50), P99Ms: percentile(all, 99),
		CPUMicros: cpu,
	}
	if ops > 0 {
		out.MeanMs = float64(sum) / float64(ops) / 1e6
		out.CPUMicrosPerOp = cpu / float64(ops)
	}
	return out
}

func main() {
	var s spec
	if len(os.Args) < 2 || json.Unmarshal([]byte(os.Args[1]), &s) != nil || s.Concurrency < 1 || s.WindowMs <= 0 || s.URL == "" {
		fmt.Fprintln(os.Stderr, `usage: go-put '{"target":"http","url":"http://127.0.0.1:8080","prefix":"/kv/","concurrency":1,"warmupMs":1000,"windowMs":3000,"timeoutMs":10000}'`)
		os.Exit(2)
	}
	makeClient, ok := targets[s.Target]
	if !ok {
		fmt.Fprintf(os.Stderr, "go-put: target %q is not built into this binary\n", s.Target)
		os.Exit(2)
	}
	put, closeClient, err := makeClient(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-put failed:", err)
		os.Exit(1)
	}
	out := run(s, put)
	closeClient()
	text, _ := json.Marshal(out)
	fmt.Println(string(text))
}
