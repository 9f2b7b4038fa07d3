"""The Hub side: what a release reads from the Hub, what it changes there, and the commit that publishes it.

Modules here may import the core (`dataset_builder.*`); nothing in the core imports this package.
"""
