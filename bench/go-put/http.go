package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// PUT <url><prefix><key> with the value as a text body; the answer must be
// 200, and its body is read to the end so that the connection is kept. One
// client with up to `concurrency` keep-alive connections.
func init() {
	targets["http"] = func(s spec) (operation, func(), error) {
		transport := &http.Transport{
			MaxIdleConns:        s.Concurrency,
			MaxIdleConnsPerHost: s.Concurrency,
			MaxConnsPerHost:     s.Concurrency,
			DisableCompression:  true,
			IdleConnTimeout:     30 * time.Second,
		}
		client := &http.Client{Transport: transport, Timeout: time.Duration(s.TimeoutMs * float64(time.Millisecond))}
		prefix := s.Prefix
		if prefix == "" {
			prefix = "/kv/"
		}
		base := s.URL + prefix
		put := func(index int64) error {
			request, err := http.NewRequest(http.MethodPut, base+keyOf(index), strings.NewReader(valueOf(index)))
			if err != nil {
				return err
			}
			request.Header.Set("content-type", "text/plain")
			response, err := client.Do(request)
			if err != nil {
				return err
			}
			body, err := io.ReadAll(response.Body)
			response.Body.Close()
			if err != nil {
				return err
			}
			if response.StatusCode != http.StatusOK {
				text := string(body)
				if len(text) > 200 {
					text = text[:200]
				}
				return fmt.Errorf("PUT answered %d: %s", response.StatusCode, text)
			}
			return nil
		}
		return put, transport.CloseIdleConnections, nil
	}
}
