"""Static-graph machinery: named-parameter layers, Program sets, the Session that runs them,
the oneDNN rewrite, Paddle's private API (paddle_api) and the deployment export.

Imports the top-level modules of paddle_gan only; knows no model."""
