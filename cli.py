"""Train, evaluate and sample any model of the zoo: python cli.py {fit,validate,test,predict} --config CONFIG."""

from lightning_zoo.cli import main

if __name__ == "__main__":
    main()
