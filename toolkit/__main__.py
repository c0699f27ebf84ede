from toolkit.cli.app import main_entry

main_entry()
