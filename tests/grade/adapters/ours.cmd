# l7lab's own proxy: three backends, a 3 s server timeout (the 504 test waits for it)
{bin}/proxy --listen {listen} --pool default={backends} --timeout-server 3s --quiet
