from tollway.cli import app

app()
