return {on_ready = 5}
