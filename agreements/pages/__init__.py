"""Read models: for each screen, the one function that assembles what its template shows.

Views call these and render; nothing else builds a page's context. They read, never write.
"""
