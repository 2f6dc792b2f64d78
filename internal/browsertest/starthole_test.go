package browsertest

import "testing"

// TestStartHole checks that only a small hole at time 0 is forgiven.
func TestStartHole(t *testing.T) {
	tests := []struct {
		e    hlsError
		want bool
	}{
		{hlsError{Details: "bufferSeekOverHole", Info: "fragment loaded with buffer holes, seeking from 0 to 0.166667"}, true},
		{hlsError{Details: "bufferSeekOverHole", Info: "fragment loaded with buffer holes, seeking from 0 to 0.9"}, false},
		{hlsError{Details: "bufferSeekOverHole", Info: "fragment loaded with buffer holes, seeking from 4.2 to 4.3"}, false},
		{hlsError{Details: "bufferAppendError", Info: "seeking from 0 to 0.1"}, false},
		{hlsError{Details: "bufferSeekOverHole", Info: "seeking from 0 to x"}, false},
	}
	for _, tt := range tests {
		if got := tt.e.startHole(); got != tt.want {
			t.Errorf("%v: startHole = %v, want %v", tt.e, got, tt.want)
		}
	}
}
