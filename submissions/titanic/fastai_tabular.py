"""fastai's tabular_learner with the course's feature engineering (lesson 6, "Why you should use a framework").

The harness builds the DataLoaders (Categorify, FillMissing, Normalize) after applying
`features` to every split; the new text columns become categories and the new numbers
continuous inputs, exactly the lesson's cat_names and cont_names.
"""

from fastai.tabular.all import *  # noqa: F403 - the course's way; the harness copes

CONFIG = {"layers": [10, 10], "epochs": 16, "lr": 0.03}


def features(df):
    df["LogFare"] = np.log1p(df["Fare"])  # noqa: F405
    df["Deck"] = df.Cabin.str[0].map(
        dict(A="ABC", B="ABC", C="ABC", D="DE", E="DE", F="FG", G="FG")
    )
    df["Family"] = df.SibSp + df.Parch
    df["Alone"] = df.Family == 0
    df["TicketFreq"] = df.groupby("Ticket")["Ticket"].transform("count")
    df["Title"] = df.Name.str.split(", ", expand=True)[1].str.split(".", expand=True)[0]
    df["Title"] = df.Title.map(dict(Mr="Mr", Miss="Miss", Mrs="Mrs", Master="Master"))
    return df.drop(columns="Fare")  # the lesson feeds LogFare, not Fare, to the model


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=CONFIG["layers"])  # noqa: F405
    learn.fit(CONFIG["epochs"], lr=CONFIG["lr"])
    return learn
