set -u
B=${EBM:-target/release/ebm}
D=${OUT:-results/baselines}
M=${MNIST:-../shared/data/mnist}

for rule in contrastive temporal spiking; do
 for k in sparse dense; do
  for sch in synchronous alternating; do
   n=ep1h-$rule-$k-$sch
   $B train --preset ep-1h --data $M --set training.epochs=1 --set training.rule=$rule --set dynamics.kernels=$k --set dynamics.schedule=$sch --out $D/$n --force -q > $D/$n.stdout 2>&1 || echo "FAIL $n"
  done
 done
done
$B train --preset ep-1h --data $M --set training.epochs=1 --set training.beta_sign=centred --out $D/ep1h-centred --force -q > /dev/null 2>&1 || echo FAIL centred
$B train --out $D/quick --force -q > /dev/null 2>&1 || echo FAIL quick
$B train --preset ep-2h --data $M --set training.epochs=1 --set data.train_limit=2000 --set dynamics.free_steps=20 --out $D/ep2h-small --force -q >/dev/null 2>&1 || echo FAIL ep2h
$B propagate --out $D/propagate --force -q > /dev/null 2>&1 || echo FAIL prop
$B stdp --out $D/stdp --force -q > /dev/null 2>&1 || echo FAIL stdp
$B gradcheck --out $D/gradcheck --force -q --set 'gradcheck.hidden_layers=[1, 2]' --set gradcheck.hidden_size=100 --set gradcheck.examples=10 --set 'gradcheck.betas=[1e-4, 1e-2]' > /dev/null 2>&1 || echo FAIL gc
$B relax-steps --out $D/relax-steps --force -q --set 'relax_steps.layers=[784,100,100,10]' --set relax_steps.examples=20 > /dev/null 2>&1 || echo FAIL rs
echo done
