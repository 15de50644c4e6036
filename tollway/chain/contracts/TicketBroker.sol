// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IBondingManager, IRoundsManager} from "./Interfaces.sol";
import {Manager} from "./Manager.sol";

/// @title Devnet probabilistic-micropayment broker.
/// @notice Function, struct and event names and argument orders follow Livepeer's TicketBroker so
/// that off-chain code works against either. Senders fund a deposit and a reserve (the ETH goes
/// to the Minter). A winning ticket pays its face value from the deposit and, when that runs
/// short, from the recipient's share of the reserve: the reserve is split evenly among the
/// transcoder pool each round and only active transcoders may claim. The value is credited to
/// the recipient as fees in the BondingManager. Senders leave with unlock(), then withdraw()
/// once unlockPeriod rounds have passed.
contract TicketBroker is Manager {
    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData;
    }

    struct Sender {
        uint256 deposit;
        uint256 withdrawRound;
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    struct FeeCredit {
        address recipient;
        uint256 round;
        uint256 amount;
    }

    struct Reserve {
        uint256 funds;
        mapping(uint256 => uint256) claimedForRound;
        mapping(uint256 => mapping(address => uint256)) claimedByAddress;
    }

    /// @notice A ticket may be redeemed while creationRound + ticketValidityPeriod > currentRound.
    uint256 public constant ticketValidityPeriod = 2;
    /// @notice Rounds between unlock() and the first round withdraw() succeeds.
    uint256 public immutable unlockPeriod;

    /// @dev secp256k1 order / 2: signatures with a larger s are malleable copies and are refused.
    uint256 private constant HALF_CURVE_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(bytes32 => bool) public usedTickets;
    mapping(address => Sender) private senders;
    mapping(address => Reserve) private reserves;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event ReserveClaimed(address indexed reserveHolder, address claimant, uint256 amount);
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);

    constructor(address _controller, uint256 _unlockPeriod) Manager(_controller) {
        require(_unlockPeriod > 0, "unlock period must be positive");
        unlockPeriod = _unlockPeriod;
    }

    // ---- funding -------------------------------------------------------------------------

    function fundDeposit() external payable {
        fundDepositAndReserveFor(msg.sender, msg.value, 0);
    }

    function fundReserve() external payable {
        fundDepositAndReserveFor(msg.sender, 0, msg.value);
    }

    function fundDepositAndReserve(uint256 _depositAmount, uint256 _reserveAmount)
        external
        payable
    {
        fundDepositAndReserveFor(msg.sender, _depositAmount, _reserveAmount);
    }

    /// @notice Funds `_addr`'s deposit and reserve; new funds cancel a pending unlock of `_addr`.
    function fundDepositAndReserveFor(address _addr, uint256 _depositAmount, uint256 _reserveAmount)
        public
        payable
        whenSystemNotPaused
    {
        require(
            msg.value == _depositAmount + _reserveAmount,
            "msg.value does not equal sum of deposit amount and reserve amount"
        );
        require(_addr != address(0), "sender is null address");
        if (_depositAmount > 0) {
            senders[_addr].deposit += _depositAmount;
            emit DepositFunded(_addr, _depositAmount);
        }
        if (_reserveAmount > 0) {
            reserves[_addr].funds += _reserveAmount;
            emit ReserveFunded(_addr, _reserveAmount);
        }
        if (msg.value > 0) {
            if (senders[_addr].withdrawRound > 0) {
                _cancelUnlock(_addr);
            }
            _minter().depositETH{value: msg.value}();
        }
    }

    // ---- leaving -------------------------------------------------------------------------

    /// @notice Starts the unlock period; tickets stay redeemable until it ends.
    function unlock() external whenSystemNotPaused {
        Sender storage sender = senders[msg.sender];
        require(
            sender.deposit > 0 || reserves[msg.sender].funds > 0,
            "sender deposit and reserve are zero"
        );
        require(sender.withdrawRound == 0, "unlock already initiated");
        uint256 round = _roundsManager().currentRound();
        sender.withdrawRound = round + unlockPeriod;
        emit Unlock(msg.sender, round, sender.withdrawRound);
    }

    function cancelUnlock() external whenSystemNotPaused {
        _cancelUnlock(msg.sender);
    }

    /// @notice Pays the caller its deposit and remaining reserve once its unlock period is over.
    function withdraw() external whenSystemNotPaused {
        Sender storage sender = senders[msg.sender];
        uint256 deposit = sender.deposit;
        uint256 reserve = reserves[msg.sender].funds;
        require(deposit > 0 || reserve > 0, "sender deposit and reserve are zero");
        require(!_isLocked(sender, _roundsManager().currentRound()), "account is locked");
        sender.deposit = 0;
        sender.withdrawRound = 0;
        reserves[msg.sender].funds = 0;
        _minter().trustedWithdrawETH(payable(msg.sender), deposit + reserve);
        emit Withdrawal(msg.sender, deposit, reserve);
    }

    // ---- views ---------------------------------------------------------------------------

    function getSenderInfo(address _sender)
        external
        view
        returns (Sender memory sender, ReserveInfo memory reserve)
    {
        Reserve storage r = reserves[_sender];
        sender = senders[_sender];
        reserve = ReserveInfo({
            fundsRemaining: r.funds,
            claimedInCurrentRound: r.claimedForRound[_roundsManager().currentRound()]
        });
    }

    /// @notice What `_claimant` may still take from `_reserveHolder`'s reserve this round: an
    /// equal share per pool member of the reserve as it stood at the round's start, less what
    /// it already claimed. Zero unless `_claimant` is an active transcoder.
    function claimableReserve(address _reserveHolder, address _claimant)
        external
        view
        returns (uint256)
    {
        return _claimableReserve(
            _reserveHolder, _claimant, _roundsManager().currentRound(), _bondingManager()
        );
    }

    function claimedReserve(address _reserveHolder, address _claimant)
        external
        view
        returns (uint256)
    {
        return reserves[_reserveHolder].claimedByAddress[_roundsManager().currentRound()][_claimant];
    }

    /// @notice keccak256 of the tightly packed ticket fields (232 bytes with a 64-byte auxData).
    function getTicketHash(Ticket memory _ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                _ticket.recipient,
                _ticket.sender,
                _ticket.faceValue,
                _ticket.winProb,
                _ticket.senderNonce,
                _ticket.recipientRandHash,
                _ticket.auxData
            )
        );
    }

    // ---- tickets -------------------------------------------------------------------------

    function redeemWinningTicket(Ticket memory _ticket, bytes memory _sig, uint256 _recipientRand)
        external
        whenSystemNotPaused
        whenCurrentRoundInitialized
    {
        IBondingManager bondingManager = _bondingManager();
        (uint256 amount, uint256 creationRound) = _redeem(
            _ticket, _sig, _recipientRand, _roundsManager().currentRound(), bondingManager
        );
        if (amount > 0) {
            // The ETH already sits in the Minter; the recipient withdraws it as fees.
            bondingManager.updateTranscoderWithFees(_ticket.recipient, amount, creationRound);
        }
    }

    /// @notice Redeems each ticket on its own: one that fails is skipped and the others still
    /// pay. Which ones paid shows in their WinningTicketRedeemed events. Fees are credited to
    /// the BondingManager once per (recipient, creation round) rather than once per ticket.
    /// @return redeemed How many tickets were redeemed.
    function batchRedeemWinningTickets(
        Ticket[] memory _tickets,
        bytes[] memory _sigs,
        uint256[] memory _recipientRands
    ) external whenSystemNotPaused whenCurrentRoundInitialized returns (uint256 redeemed) {
        require(
            _tickets.length == _sigs.length && _tickets.length == _recipientRands.length,
            "array lengths differ"
        );
        IBondingManager bondingManager = _bondingManager();
        uint256 round = _roundsManager().currentRound();
        FeeCredit[] memory credits = new FeeCredit[](_tickets.length);
        uint256 creditCount = 0;
        for (uint256 i = 0; i < _tickets.length; i++) {
            Ticket memory ticket = _tickets[i];
            // Fees can only be credited to a registered transcoder; a ticket for anyone else is
            // skipped here rather than reverting the whole batch at the credit step.
            if (!_isRegisteredCached(bondingManager, credits, creditCount, ticket.recipient)) {
                continue;
            }
            (bool ok, uint256 amount, uint256 creationRound) =
                _tryRedeem(ticket, _sigs[i], _recipientRands[i], round, bondingManager);
            if (ok) {
                redeemed++;
                if (amount > 0) {
                    creditCount =
                        _addFeeCredit(credits, creditCount, ticket.recipient, creationRound, amount);
                }
            }
        }
        for (uint256 i = 0; i < creditCount; i++) {
            if (credits[i].amount > 0) {
                bondingManager.updateTranscoderWithFees(
                    credits[i].recipient, credits[i].amount, credits[i].round
                );
            }
        }
    }

    /// @dev Redeems one ticket of a batch through a self-call, so that a failing ticket reverts
    /// alone; returns whether it paid, the amount and its creation round.
    function _tryRedeem(
        Ticket memory _ticket,
        bytes memory _sig,
        uint256 _recipientRand,
        uint256 _round,
        IBondingManager _bonding
    ) private returns (bool ok, uint256 amount, uint256 creationRound) {
        bytes memory data = abi.encodeCall(
            this.redeemWinningTicketInBatch, (_ticket, _sig, _recipientRand, _round, _bonding)
        );
        uint256 gasBefore = gasleft();
        bytes memory result;
        (ok, result) = address(this).call(data);
        // A self-call starved of gas fails like a bad ticket and leaves under 1/64 of the gas
        // behind. Reverting then keeps eth_estimateGas from settling on a limit that silently
        // drops good tickets.
        require(ok || gasleft() > gasBefore / 32, "insufficient gas for batch redemption");
        if (ok) {
            (amount, creationRound) = abi.decode(result, (uint256, uint256));
        }
    }

    /// @notice One ticket of a batch, callable only by this contract so that a failing ticket
    /// reverts alone. Returns the amount paid and the ticket's creation round.
    function redeemWinningTicketInBatch(
        Ticket memory _ticket,
        bytes memory _sig,
        uint256 _recipientRand,
        uint256 _round,
        IBondingManager _bonding
    ) external returns (uint256 amount, uint256 creationRound) {
        require(msg.sender == address(this), "caller must be TicketBroker");
        return _redeem(_ticket, _sig, _recipientRand, _round, _bonding);
    }

    // ---- internals -----------------------------------------------------------------------

    /// @dev Validates and pays one ticket, leaving the BondingManager fee credit to the caller.
    function _redeem(
        Ticket memory _ticket,
        bytes memory _sig,
        uint256 _recipientRand,
        uint256 _round,
        IBondingManager _bonding
    ) private returns (uint256 amount, uint256 creationRound) {
        bytes32 ticketHash;
        (ticketHash, creationRound) =
            _requireValidWinningTicket(_ticket, _sig, _recipientRand, _round);
        usedTickets[ticketHash] = true;
        amount = _takeFaceValue(_ticket, _round, _bonding);
        emit WinningTicketRedeemed(
            _ticket.sender,
            _ticket.recipient,
            _ticket.faceValue,
            _ticket.winProb,
            _ticket.senderNonce,
            _recipientRand,
            _ticket.auxData
        );
        if (amount > 0) {
            emit WinningTicketTransfer(_ticket.sender, _ticket.recipient, amount);
        }
    }

    /// @dev Whether the BondingManager knows `_recipient` as a transcoder, asking it once per
    /// recipient in a batch: a recipient already in `_credits` was registered.
    function _isRegisteredCached(
        IBondingManager _bonding,
        FeeCredit[] memory _credits,
        uint256 _count,
        address _recipient
    ) private view returns (bool) {
        for (uint256 i = 0; i < _count; i++) {
            if (_credits[i].recipient == _recipient) {
                return true;
            }
        }
        return _bonding.isRegisteredTranscoder(_recipient);
    }

    /// @dev Adds `_amount` to the credit for (recipient, round), opening one if needed; returns
    /// the new number of credits.
    function _addFeeCredit(
        FeeCredit[] memory _credits,
        uint256 _count,
        address _recipient,
        uint256 _round,
        uint256 _amount
    ) private pure returns (uint256) {
        for (uint256 i = 0; i < _count; i++) {
            if (_credits[i].recipient == _recipient && _credits[i].round == _round) {
                _credits[i].amount += _amount;
                return _count;
            }
        }
        _credits[_count] = FeeCredit(_recipient, _round, _amount);
        return _count + 1;
    }

    /// @dev Every check a winning ticket must pass, in Livepeer's order; returns its hash and
    /// its creation round.
    function _requireValidWinningTicket(
        Ticket memory _ticket,
        bytes memory _sig,
        uint256 _recipientRand,
        uint256 _round
    ) private view returns (bytes32 ticketHash, uint256 creationRound) {
        require(_ticket.recipient != address(0), "ticket recipient is null address");
        require(_ticket.sender != address(0), "ticket sender is null address");
        creationRound = _requireValidAuxData(_roundsManager(), _round, _ticket.auxData);
        require(
            keccak256(abi.encodePacked(_recipientRand)) == _ticket.recipientRandHash,
            "recipientRand does not match recipientRandHash"
        );

        ticketHash = getTicketHash(_ticket);
        require(!usedTickets[ticketHash], "ticket is used");
        require(_signer(ticketHash, _sig) == _ticket.sender, "invalid signature over ticket hash");
        require(
            uint256(keccak256(abi.encodePacked(_sig, _recipientRand))) < _ticket.winProb,
            "ticket did not win"
        );
        require(_isLocked(senders[_ticket.sender], _round), "sender is unlocked");
        require(
            senders[_ticket.sender].deposit > 0 || reserves[_ticket.sender].funds > 0,
            "sender deposit and reserve are zero"
        );
    }

    /// @dev Takes up to the face value from the deposit, then the shortfall from the recipient's
    /// claimable share of the reserve; returns the amount taken.
    function _takeFaceValue(Ticket memory _ticket, uint256 _round, IBondingManager _bonding)
        private
        returns (uint256 amount)
    {
        Sender storage sender = senders[_ticket.sender];
        amount = _ticket.faceValue;
        if (amount <= sender.deposit) {
            sender.deposit -= amount;
            return amount;
        }
        uint256 shortfall = amount - sender.deposit;
        amount = sender.deposit
            + _claimFromReserve(_ticket.sender, _ticket.recipient, shortfall, _round, _bonding);
        sender.deposit = 0;
    }

    /// @dev Locked (tickets payable, no withdrawal) until the unlock period, if any, ends.
    function _isLocked(Sender storage _sender, uint256 _round) private view returns (bool) {
        return _sender.withdrawRound == 0 || _round < _sender.withdrawRound;
    }

    function _cancelUnlock(address _sender) private {
        require(senders[_sender].withdrawRound > 0, "no unlock request in progress");
        senders[_sender].withdrawRound = 0;
        emit UnlockCancelled(_sender);
    }

    function _claimableReserve(
        address _reserveHolder,
        address _claimant,
        uint256 _round,
        IBondingManager _bonding
    ) private view returns (uint256) {
        if (!_bonding.isActiveTranscoder(_claimant)) {
            return 0;
        }
        uint256 poolSize = _bonding.getTranscoderPoolSize();
        if (poolSize == 0) {
            return 0;
        }
        Reserve storage reserve = reserves[_reserveHolder];
        // funds + claimedForRound is the reserve as it stood before this round's claims.
        uint256 share = (reserve.funds + reserve.claimedForRound[_round]) / poolSize;
        uint256 claimed = reserve.claimedByAddress[_round][_claimant];
        return share > claimed ? share - claimed : 0;
    }

    function _claimFromReserve(
        address _reserveHolder,
        address _claimant,
        uint256 _amount,
        uint256 _round,
        IBondingManager _bonding
    ) private returns (uint256 claimed) {
        uint256 claimable = _claimableReserve(_reserveHolder, _claimant, _round, _bonding);
        claimed = _amount < claimable ? _amount : claimable;
        if (claimed > 0) {
            Reserve storage reserve = reserves[_reserveHolder];
            reserve.funds -= claimed;
            reserve.claimedForRound[_round] += claimed;
            reserve.claimedByAddress[_round][_claimant] += claimed;
            emit ReserveClaimed(_reserveHolder, _claimant, claimed);
        }
    }

    /// @dev auxData = creationRound (32 bytes) ‖ the block hash RoundsManager stored for it.
    function _requireValidAuxData(IRoundsManager _rounds, uint256 _round, bytes memory _auxData)
        private
        view
        returns (uint256 creationRound)
    {
        require(_auxData.length == 64, "invalid length for ticket auxData: must be 64 bytes");
        bytes32 creationRoundBlockHash;
        (creationRound, creationRoundBlockHash) = abi.decode(_auxData, (uint256, bytes32));

        bytes32 storedHash = _rounds.blockHashForRound(creationRound);
        require(storedHash != bytes32(0), "ticket creationRound does not have a block hash");
        require(
            creationRoundBlockHash == storedHash,
            "ticket creationRound blockHash invalid for creationRound"
        );
        // A stored hash means creationRound <= currentRound, so the sum cannot overflow.
        require(creationRound + ticketValidityPeriod > _round, "ticket is expired");
    }

    /// @dev The signer of an EIP-191 personal message over `_hash`, or the null address when the
    /// signature is malformed: not 65 bytes r ‖ s ‖ v, v not 27/28, or s in the upper half.
    function _signer(bytes32 _hash, bytes memory _sig) private pure returns (address) {
        if (_sig.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(_sig, 32))
            s := mload(add(_sig, 64))
            v := byte(0, mload(add(_sig, 96)))
        }
        if ((v != 27 && v != 28) || uint256(s) > HALF_CURVE_ORDER) {
            return address(0);
        }
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", _hash));
        return ecrecover(digest, v, r, s);
    }
}
