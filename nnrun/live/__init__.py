"""The live page: a read-only web page that follows run folders (`nnrun watch`, `nnrun train --live`)."""
