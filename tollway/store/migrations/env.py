"""Alembic's entry: runs the migrations on the connection that `tollway.store.database.migrate`
hands it (tollway never runs Alembic from an ini file)."""

from alembic import context

context.configure(connection=context.config.attributes["connection"], render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
