//go:build etcd

package main

import (
	"context"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// Put through etcd's own clientv3: one client (one gRPC connection) shared by every goroutine.
func init() {
	targets["etcd"] = func(s spec) (operation, func(), error) {
		client, err := clientv3.New(clientv3.Config{Endpoints: []string{s.URL}, DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, nil, err
		}
		timeout := time.Duration(s.TimeoutMs * float64(time.Millisecond))
		put := func(index int64) error {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			_, err := client.Put(ctx, keyOf(index), valueOf(index))
			cancel()
			return err
		}
		return put, func() { client.Close() }, nil
	}
}
