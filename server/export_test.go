package server

import "context"

// PruneOld runs one retention pass (the hourly pruning) now.
func (s *Server) PruneOld(ctx context.Context) { s.pruneOld(ctx) }
