package config

import (
	"path/filepath"
	"runtime"
	"testing"
)

// testdataPath returns an absolute path into testdata, since the tests chdir.
func testdataPath(t *testing.T, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "testdata", name)
}
