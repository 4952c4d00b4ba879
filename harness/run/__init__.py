"""One submission from file to stored score, and its reproduction.

`submission` reads a file without running it; `pipeline` checks it, hands a code
submission to an executor (`runner`), which starts `worker` in its own process (seeds
and flags from `repro`, the model and lr_finds recorded by `instrument`, what it
decided and warns about by `notes`, the pretrained weights it loaded by `weights`);
`scoring` joins the predictions with the hidden labels in the harness's own process,
and the row goes to the store. Imports `store`, `competition` and the plain helpers;
never `kaggle` or `cli`.
"""
