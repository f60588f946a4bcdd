"""Stand-in for rigel.plugins: Rigel's Plugin base class, with Rigel's constructor
signature (rigel/plugins/plugin.py) and its lifecycle methods as no-ops."""


class Plugin:
    def __init__(self, raw_data, global_data, application, providers_data, shared_data):
        self.raw_data = raw_data
        self.global_data = global_data
        self.application = application
        self.providers_data = providers_data
        self.shared_data = shared_data

    def setup(self):
        pass

    def start(self):
        pass

    def process(self):
        pass

    def stop(self):
        pass
