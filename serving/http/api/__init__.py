"""One module per resource; handlers only wire dependencies to a domain function."""
