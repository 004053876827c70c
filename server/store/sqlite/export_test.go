package sqlite

// Crash stops the store as a kill -9 would: the fold loop ends without a
// last fold and the journal and database are closed as they are, so
// journaled heartbeats stay unfolded for the next Open.
func (s *Store) Crash() {
	if hj := s.hj; hj != nil {
		hj.stopOnce.Do(func() {
			close(hj.stop)
			<-hj.done
			hj.mu.Lock()
			_ = hj.j.Close()
			hj.mu.Unlock()
		})
	}
	s.stopOnce.Do(func() {
		close(s.swStop)
		<-s.swDone
	})
	_ = s.getToken.Close()
	_ = s.r.Close()
	_ = s.w.Close()
}

var (
	EncodeBeat = encodeBeat
	DecodeBeat = decodeBeat
)
